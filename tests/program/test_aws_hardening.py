"""Issue 8: what a real ``pulumi up`` needs that the offline preview used to let through, checked
on the rendered resources (the inputs the program sends, as resources.json records them)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.catalog.eks import CORE_ADDONS
from gpufleet.preview.mocks import stable_digest
from tests.program.conftest import HEAD, children_of, preview_file

REPO = Path(__file__).resolve().parents[2]
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ADDON = "aws:eks/addon:Addon"
PINS = load_catalog().eks.kubernetes_versions["1.33"]

FLEET = """\
cluster:
  name: fleet
  provider: aws
  region: us-east-1
  kubernetes_version: "1.33"
  admins: ["arn:aws:iam::123456789012:role/platform-admin"]
  deployer: "arn:aws:iam::123456789012:role/platform-admin"
  endpoint: {deploy_from: in-vpc}
network:
  vpc_cidr: 10.40.0.0/16
  availability_zones: [us-east-1a, us-east-1b]
fabrics:
  rdma: {kind: efa}
storage:
  data: {kind: s3}
  scratch-bucket: {kind: s3, versioning: false, allow_deletion: true}
  fast: {kind: fsx-lustre, deployment: PERSISTENT_2, capacity_tib: 4.8, throughput_per_tib: 500, import_from: data}
  quick: {kind: fsx-lustre, deployment: SCRATCH_2, capacity_tib: 2.4, throughput_per_tib: 200, backup_retention_days: 0}
  kept-long: {kind: fsx-lustre, deployment: PERSISTENT_1, capacity_tib: 2.4, throughput_per_tib: 100, backup_retention_days: 30}
node_pools:
  sys:
    workload: system
    instance_type: m7i.xlarge
    nodes: {min: 1, max: 2}
  train:
    workload: training
    instance_type: p5.48xlarge
    nodes: {min: 2, max: 2}
    fabric: rdma
    storage: [fast]
  block:
    workload: training
    instance_type: p5.48xlarge
    nodes: {min: 0, max: 4}
    fabric: rdma
    capacity: {type: capacity-block, reservation_id: cr-0123456789abcdef0, availability_zone: us-east-1b}
  serve:
    workload: inference
    instance_type: g6e.12xlarge
    nodes: {min: 1, max: 4}
    storage: [quick]
  lab:
    workload: lab
    instance_type: g6.xlarge
    nodes: {min: 0, max: 2}
    capacity: {type: spot}
    storage: [kept-long]
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("hardening") / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    return preview_file(path)


def user_data(result, pool: str) -> str:
    return base64.b64decode(result.named(LT, f"{pool}-template").inputs["userData"]).decode()


def policy(resource, key: str) -> dict:
    return json.loads(resource.inputs[key])


def rules_of(result, kind: str, group_id: str) -> list[dict]:
    return [r.inputs for r in result.of_type(kind) if r.inputs["securityGroupId"] == group_id]


# -- item 7: nodes register with their taints and labels ----------------------------------------


def test_nodes_register_with_their_taints_and_labels_in_nodeadm(fleet):
    text = user_data(fleet, "train")
    assert '- "--register-with-taints=nvidia.com/gpu=true:NoSchedule,gpufleet.io/workload=training:NoSchedule"' in text
    assert "--node-labels=gpufleet.io/accelerator=H100-80GB," in text and "gpufleet.io/pool=train" in text
    system = user_data(fleet, "sys")
    assert "--node-labels=gpufleet.io/pool=sys,gpufleet.io/workload=system" in system
    assert "--register-with-taints" not in system, "system nodes stay untainted for the add-ons"


# -- item 8: Lustre clients accept the file servers' traffic --------------------------------------


def test_lustre_clients_accept_lnet_from_the_file_system(fleet):
    lustre = next(r for r in children_of(fleet, "gpufleet:aws:StorageTier", "fast") if r.type == SG)
    training = fleet.named(SG, "network-nodes-training")
    from_lustre = {
        (r["fromPort"], r["toPort"])
        for r in rules_of(fleet, INGRESS, training.id)
        if r.get("referencedSecurityGroupId") == lustre.id
    }
    assert from_lustre == {(988, 988), (1018, 1023)}
    inference = fleet.named(SG, "network-nodes-inference")
    assert not [r for r in rules_of(fleet, INGRESS, inference.id) if r.get("referencedSecurityGroupId") == lustre.id], (
        "only clients of the tier"
    )


# -- item 11: AMI release and add-on versions are pinned -------------------------------------------


def test_ami_comes_from_the_pinned_release_parameter_not_recommended(fleet):
    release = PINS.ami_release
    parameter = (
        f"/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/nvidia/"
        f"amazon-eks-node-al2023-x86_64-nvidia-1.33-{release}/image_id"
    )
    # The mocks derive an AMI id from the parameter name: the template names this exact release.
    assert fleet.named(LT, "train-template").inputs["imageId"] == f"ami-{stable_digest('ssm', parameter)[:17]}"


def test_addons_are_pinned_from_the_catalog_and_keep_local_tuning_on_update(fleet):
    """EKS UG eks-add-ons: "The `--resolve-conflicts PRESERVE` option preserves existing values for
    the add-on ... If you change this value to `OVERWRITE`, all settings are changed to Amazon EKS
    default values." Every add-on, the EBS CSI driver beside the storage component included, is
    the catalog's pin for the cluster's Kubernetes version and keeps its values on update."""
    addons = {r.inputs["addonName"]: r.inputs for r in fleet.of_type(ADDON)}
    assert set(addons) == {*CORE_ADDONS, "aws-ebs-csi-driver"}
    assert {name: inputs["addonVersion"] for name, inputs in addons.items()} == PINS.addons
    assert all(inputs["resolveConflictsOnUpdate"] == "PRESERVE" for inputs in addons.values())
    cni = json.loads(addons["vpc-cni"]["configurationValues"])
    assert cni == {"env": {"MINIMUM_IP_TARGET": "10", "WARM_IP_TARGET": "5"}}


def test_ami_release_in_the_stack_overrides_the_catalog_pin(tmp_path):
    path = tmp_path / "pinned.yaml"
    path.write_text(
        FLEET.replace('kubernetes_version: "1.33"\n', 'kubernetes_version: "1.33"\n  ami_release: v20250101\n'), encoding="utf-8"
    )
    result = preview_file(path)
    parameter = "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.33-v20250101/image_id"
    assert result.named(LT, "sys-template").inputs["imageId"] == f"ami-{stable_digest('ssm', parameter)[:17]}"


def test_a_kubernetes_upgrade_is_one_edit_that_moves_every_pin_together(tmp_path, fleet):
    """1.32 -> 1.33: the cluster version, each core add-on and the AMI parameter move, nothing else."""
    path = tmp_path / "fleet.yaml"  # the same stack name, so only the version differs
    path.write_text(FLEET.replace('kubernetes_version: "1.33"', 'kubernetes_version: "1.32"'), encoding="utf-8")
    older = preview_file(path)
    before = load_catalog().eks.kubernetes_versions["1.32"]
    addons = {r.inputs["addonName"]: r.inputs["addonVersion"] for r in older.of_type(ADDON)}
    assert addons == before.addons and before.addons["kube-proxy"] != PINS.addons["kube-proxy"]
    (cluster,) = older.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["version"] == "1.32"
    parameter = f"/aws/service/eks/optimized-ami/1.32/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.32-{before.ami_release}/image_id"
    assert older.named(LT, "sys-template").inputs["imageId"] == f"ami-{stable_digest('ssm', parameter)[:17]}"
    assert sorted(r.name for r in older.resources) == sorted(r.name for r in fleet.resources)


# -- item 13: what a retained tier needs is retained with it ---------------------------------------


def test_retained_file_system_keeps_its_key_and_security_group(fleet):
    children = {r.type: r for r in children_of(fleet, "gpufleet:aws:StorageTier", "fast")}
    for kind in ("aws:kms/key:Key", SG, "aws:fsx/lustreFileSystem:LustreFileSystem"):
        assert children[kind].protect and children[kind].retain_on_delete, kind


def test_retained_bucket_keeps_its_settings_and_a_deletable_one_does_not(fleet):
    for resource in children_of(fleet, "gpufleet:aws:StorageTier", "data"):
        assert resource.protect and resource.retain_on_delete, resource.type
    for resource in children_of(fleet, "gpufleet:aws:StorageTier", "scratch-bucket"):
        assert not resource.protect and not resource.retain_on_delete, resource.type


# -- items 14, 17: endpoint and admins --------------------------------------------------------------


def test_endpoint_is_private_by_default_and_public_only_to_listed_cidrs(fleet):
    cluster = fleet.named("aws:eks/cluster:Cluster", "fleet-eks").inputs
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in cluster["vpcConfig"]
    prod = preview_file(REPO / "stacks" / "prod.yaml").named("aws:eks/cluster:Cluster", "ai-prod-eks").inputs
    assert prod["vpcConfig"]["endpointPublicAccess"] is True
    assert prod["vpcConfig"]["publicAccessCidrs"] == ["198.51.100.0/24"]


def test_no_hidden_admin_and_audit_logs_on(fleet):
    cluster = fleet.named("aws:eks/cluster:Cluster", "fleet-eks").inputs
    assert cluster["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    assert set(cluster["enabledClusterLogTypes"]) >= {"audit", "api", "authenticator"}
    assert [r.inputs["principalArn"] for r in fleet.of_type("aws:eks/accessEntry:AccessEntry")] == [
        "arn:aws:iam::123456789012:role/platform-admin"
    ]


# -- item 15: pods cannot take the node's credentials -------------------------------------------------


def test_imds_hop_limit_is_one_everywhere(fleet):
    for template in fleet.of_type(LT):
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1, template.name


def test_node_roles_carry_node_policies_only(fleet):
    node_roles = {r.id for r in fleet.of_type(ROLE) if "-nodes-" in r.name}
    attached = [r.inputs["policyArn"].rsplit("/", 1)[-1] for r in fleet.of_type(ATTACHMENT) if r.inputs["role"] in node_roles]
    assert sorted(set(attached)) == ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy"]
    assert "AmazonEKS_CNI_Policy" not in attached and "AmazonSSMManagedInstanceCore" not in attached


def test_vpc_cni_runs_on_its_own_pod_identity_role(fleet):
    (association,) = [
        r
        for r in fleet.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.inputs["serviceAccount"] == "aws-node"
    ]
    assert association.inputs["namespace"] == "kube-system"
    role = next(r for r in fleet.of_type(ROLE) if r.outputs["arn"] == association.inputs["roleArn"])
    (statement,) = policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    (cni_policy,) = [r for r in fleet.of_type(ATTACHMENT) if r.inputs["role"] == role.id]
    assert cni_policy.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    cni = next(r for r in fleet.of_type(ADDON) if r.inputs["addonName"] == "vpc-cni")
    assert association.urn in cni.depends_on, "the add-on starts with its credentials in place"


def test_every_pod_identity_role_names_its_cluster_namespace_and_service_account(fleet):
    """EKS UG pod-id-role: "EKS Pod Identity uses TagSession to include session tags in the
    requests to AWS STS ... You can use these tags in the condition keys in the trust policy to
    restrict which service accounts, namespaces, and clusters can use this role"; the tags
    (pod-id-abac-tags) are ``eks-cluster-arn``, ``eks-cluster-name``, ``kubernetes-namespace``,
    ``kubernetes-service-account``, ``kubernetes-pod-name``, ``kubernetes-pod-uid``. AWS documents
    no ``aws:SourceArn`` for ``pods.eks.amazonaws.com``, so no role conditions on it.

    Every role EKS Pod Identity may assume (the VPC CNI's, the EBS CSI driver's, the Cluster
    Autoscaler's) requires this cluster's ARN and exactly the namespace and service account of
    the association (or add-on) that uses it."""
    cluster_arn = fleet.named("aws:eks/cluster:Cluster", "fleet-eks").outputs["arn"]
    users = {
        r.inputs["roleArn"]: (r.inputs["namespace"], r.inputs["serviceAccount"])
        for r in fleet.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    for addon in fleet.of_type(ADDON):
        for association in addon.inputs.get("podIdentityAssociations") or ():
            users[association["roleArn"]] = ("kube-system", association["serviceAccount"])
    pod_roles = [r for r in fleet.of_type(ROLE) if "pods.eks.amazonaws.com" in r.inputs["assumeRolePolicy"]]
    assert {role.name for role in pod_roles} == {"fleet-vpc-cni-pod-identity", "aws-ebs-csi-driver", "cluster-autoscaler"}
    for role in pod_roles:
        (statement,) = policy(role, "assumeRolePolicy")["Statement"]
        namespace, service_account = users[role.outputs["arn"]]
        assert statement["Condition"] == {
            "StringEquals": {
                "aws:SourceAccount": "123456789012",
                "aws:RequestTag/eks-cluster-arn": cluster_arn,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }
        }, role.name


# -- item 16: workload classes are separated ----------------------------------------------------------


def test_each_class_has_its_own_node_role_and_security_group(fleet):
    groups = {
        pool: fleet.named(LT, f"{pool}-template").inputs["networkInterfaces"][0]["securityGroups"]
        for pool in ("sys", "serve", "lab")
    }
    assert len({group for listed in groups.values() for group in listed}) == 3
    roles = {pool: fleet.named(NODE_GROUP, f"{pool}-nodes").inputs["nodeRoleArn"] for pool in ("sys", "train", "serve", "lab")}
    assert len(set(roles.values())) == 4


def test_lab_nodes_reach_training_and_inference_nodes_only_for_dns(fleet):
    lab = fleet.named(SG, "network-nodes-lab").id
    for target in ("training", "inference"):
        group = fleet.named(SG, f"network-nodes-{target}").id
        from_lab = [r for r in rules_of(fleet, INGRESS, group) if r.get("referencedSecurityGroupId") == lab]
        assert from_lab and all((r["fromPort"], r["toPort"]) == (53, 53) for r in from_lab), target


# -- item 18: logging and hardening ---------------------------------------------------------------------


def test_vpc_flow_logs_and_a_closed_default_security_group(fleet):
    (flow_log,) = fleet.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    (default,) = fleet.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress") and not default.inputs.get("egress")
    role = next(r for r in fleet.of_type(ROLE) if r.outputs["arn"] == flow_log.inputs["iamRoleArn"])
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_buckets_deny_plain_http_and_use_their_own_key(fleet):
    children = {r.type: r for r in children_of(fleet, "gpufleet:aws:StorageTier", "data")}
    (statement,) = policy(children["aws:s3/bucketPolicy:BucketPolicy"], "policy")["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rule = children["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"].inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == children["aws:kms/key:Key"].outputs["arn"]


def test_key_policies_are_scoped_to_the_account_and_their_service(fleet):
    keys = {r.parent.split("::")[-1]: policy(r, "policy") for r in fleet.of_type("aws:kms/key:Key")}
    services = {owner: doc["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"] for owner, doc in keys.items()}
    assert services == {
        "fleet": "eks.us-east-1.amazonaws.com",
        "data": "s3.us-east-1.amazonaws.com",
        "scratch-bucket": "s3.us-east-1.amazonaws.com",
        "fast": "fsx.us-east-1.amazonaws.com",
        "kept-long": "fsx.us-east-1.amazonaws.com",
    }
    for doc in keys.values():
        assert all(s["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} for s in doc["Statement"])


def test_control_plane_trust_names_the_account(fleet):
    role = fleet.named(ROLE, "fleet-control-plane")
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"}
    }


def test_node_and_lustre_egress_is_limited(fleet):
    for rule in fleet.of_type(EGRESS):
        open_to_all = rule.inputs.get("cidrIpv4") == "0.0.0.0/0"
        assert not open_to_all or (rule.inputs["ipProtocol"], rule.inputs.get("fromPort")) == ("tcp", 443), rule.name
    lustre = next(r for r in children_of(fleet, "gpufleet:aws:StorageTier", "fast") if r.type == SG)
    assert {(r["fromPort"], r["toPort"]) for r in rules_of(fleet, EGRESS, lustre.id)} == {(988, 988), (1018, 1023)}


# -- item 19: smaller things ----------------------------------------------------------------------------


def test_nat_gateways_wait_for_the_internet_gateway(fleet):
    (gateway,) = fleet.of_type("aws:ec2/internetGateway:InternetGateway")
    for nat in fleet.of_type("aws:ec2/natGateway:NatGateway"):
        assert gateway.urn in nat.depends_on


def test_training_subnets_take_no_internal_load_balancers(fleet):
    training = {subnet for pool in ("train", "block") for subnet in fleet.named(NODE_GROUP, f"{pool}-nodes").inputs["subnetIds"]}
    serving = set(fleet.named(NODE_GROUP, "serve-nodes").inputs["subnetIds"])
    for subnet in fleet.of_type("aws:ec2/subnet:Subnet"):
        tagged = "kubernetes.io/role/internal-elb" in subnet.inputs["tags"]
        if subnet.id in training:
            assert not tagged, subnet.name
        if subnet.id in serving:
            assert tagged, subnet.name


def test_unversioned_bucket_is_left_unversioned(fleet):
    kinds = [r.type for r in children_of(fleet, "gpufleet:aws:StorageTier", "scratch-bucket")]
    assert "aws:s3/bucketVersioning:BucketVersioning" not in kinds
    (versioning,) = [
        r for r in children_of(fleet, "gpufleet:aws:StorageTier", "data") if r.type == "aws:s3/bucketVersioning:BucketVersioning"
    ]
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"


def test_scratch_has_no_key_and_persistent_tiers_have_backups(fleet):
    assert not [r for r in children_of(fleet, "gpufleet:aws:StorageTier", "quick") if r.type == "aws:kms/key:Key"]
    file_systems = {r.name: r.inputs for r in fleet.of_type("aws:fsx/lustreFileSystem:LustreFileSystem")}
    assert "automaticBackupRetentionDays" not in file_systems["quick-fs"]
    assert file_systems["fast-fs"]["automaticBackupRetentionDays"] == 7
    assert file_systems["kept-long-fs"]["automaticBackupRetentionDays"] == 30
    assert file_systems["fast-fs"]["copyTagsToBackups"] is True


# -- items 3, 10: add-ons after nodes, capacity blocks ---------------------------------------------------


def test_coredns_waits_for_the_node_groups_and_the_rest_do_not(fleet):
    groups = {r.urn for r in fleet.of_type(NODE_GROUP)}
    addons = {r.inputs["addonName"]: set(r.depends_on) for r in fleet.of_type(ADDON)}
    assert groups <= addons["coredns"]
    assert not groups & addons["vpc-cni"] and not groups & addons["kube-proxy"]


def test_capacity_block_pool_updates_in_place_and_starts_at_zero(fleet):
    block = fleet.named(NODE_GROUP, "block-nodes").inputs
    assert block["updateConfig"]["updateStrategy"] == "MINIMAL"
    assert block["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    # Every accelerated pool updates in place (issue 23, #22); the system pool surges.
    assert fleet.named(NODE_GROUP, "train-nodes").inputs["updateConfig"]["updateStrategy"] == "MINIMAL"
    assert fleet.named(NODE_GROUP, "sys-nodes").inputs["updateConfig"]["updateStrategy"] == "DEFAULT"


def test_a_stack_without_admins_makes_the_deployer_admin_and_says_so(tmp_path):
    from gpufleet.model import resolve
    from gpufleet.stack import load_stack

    path = tmp_path / "s.yaml"
    path.write_text(
        HEAD + "node_pools:\n  sys: {workload: system, instance_type: m7i.xlarge, nodes: {min: 1, max: 2}}\n", encoding="utf-8"
    )
    plan = resolve(load_stack(path), load_catalog())
    decision = plan.cluster.cloud.eks.bootstrap_admin
    assert decision.value == "true" and decision.reason.startswith("no admin is listed")
    assert not plan.findings, "shown as a decision, not hidden"
