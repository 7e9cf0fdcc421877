"""Storage as pods see it: classes, the FSx CSI driver, and static volumes for each Lustre tier."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from gpufleet.model.kubernetes import LustreVolumePlan, StorageClassPlan, StoragePlan
from gpufleet.names import STORAGE_LABEL
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster
from gpufleet.render.resources import Registered, kubernetes_object

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


class KubernetesStorage(pulumi.ComponentResource):
    """Storage classes and static Lustre volumes; the drivers the cloud runs for the classes
    (the EBS CSI add-on on AWS) come from the cloud backend (``handle.cloud``)."""

    def __init__(self, plan: StoragePlan, handle: ClusterHandle, namespaces: Mapping[str, Registered]) -> None:
        super().__init__("gpufleet:kubernetes:Storage", "storage", None, under_cluster(handle))
        handle.cloud.serve("storage", self)
        for storage_class in plan.classes:
            self._storage_class(storage_class)
        driver = helm_release(plan.csi_driver, self, depends_on=handle.nodes_ready) if plan.csi_driver else None
        for volume in plan.lustre_volumes:
            self._lustre_volume(volume, handle, namespaces, driver)
        self.register_outputs({})

    def _storage_class(self, plan: StorageClassPlan) -> None:
        meta = metadata(plan.name)
        if plan.default:
            meta["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
        kubernetes_object(
            "storage.k8s.io/v1",
            "StorageClass",
            plan.name,
            {
                "metadata": meta,
                "provisioner": plan.provisioner,
                "parameters": plan.parameters or None,
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": True,
            },
            pulumi.ResourceOptions(parent=self),
        )

    def _lustre_volume(
        self,
        plan: LustreVolumePlan,
        handle: ClusterHandle,
        namespaces: Mapping[str, Registered],
        driver: Registered | None,
    ) -> None:
        file_system = handle.file_systems[plan.tier]
        size = f"{plan.capacity_gib}Gi"
        terms = [
            {"matchExpressions": [{"key": key, "operator": "In", "values": [value]} for key, value in sorted(term.items())]}
            for term in plan.node_terms
        ]
        volume = kubernetes_object(
            "v1",
            "PersistentVolume",
            plan.volume_name,
            {
                "metadata": metadata(plan.volume_name, **{STORAGE_LABEL: plan.tier}),
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": ["ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "mountOptions": ["flock"],
                    "claimRef": {"namespace": plan.claim_namespace, "name": plan.tier},
                    # Only the file system's clients reach it: a pod using the volume runs on one.
                    "nodeAffinity": {"required": {"nodeSelectorTerms": terms}},
                    "csi": {
                        "driver": plan.driver,
                        "volumeHandle": file_system.file_system_id,
                        "volumeAttributes": {"dnsname": file_system.dns_name, "mountname": file_system.mount_name},
                    },
                },
            },
            pulumi.ResourceOptions(parent=self, depends_on=[driver] if driver else [], retain_on_delete=True),
        )
        kubernetes_object(
            "v1",
            "PersistentVolumeClaim",
            plan.volume_name,
            {
                "metadata": metadata(plan.tier, plan.claim_namespace, **{STORAGE_LABEL: plan.tier}),
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "volumeName": plan.volume_name,
                    "resources": {"requests": {"storage": size}},
                },
            },
            # A claim dropped from the stack stays, with the data its pods see: delete it yourself.
            pulumi.ResourceOptions(parent=self, depends_on=[volume, namespaces[plan.claim_namespace]], retain_on_delete=True),
        )
