"""Small Pulumi programs built from real provider resources, used to exercise the engine."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

EKS_AMI_PARAMETER = "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/nvidia/recommended/image_id"


class NodePool(pulumi.ComponentResource):
    """A nested component: launch template + placement group + node group."""

    def __init__(self, name: str, cluster: aws.eks.Cluster, role: aws.iam.Role, subnet_ids, opts=None):
        super().__init__("toy:fleet:NodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ami = aws.ssm.get_parameter_output(name=EKS_AMI_PARAMETER)
        self.placement = aws.ec2.PlacementGroup(f"{name}-pg", strategy="cluster", opts=child)
        self.template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            image_id=ami.value,
            instance_type="p5.48xlarge",
            placement={"group_name": self.placement.name},
            opts=child,
        )
        self.group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=cluster.name,
            node_role_arn=role.arn,
            subnet_ids=subnet_ids,
            scaling_config={"desired_size": 2, "min_size": 0, "max_size": 4},
            launch_template={"id": self.template.id, "version": self.template.latest_version.apply(str)},
            opts=child,
        )
        self.register_outputs({"nodeGroupArn": self.group.arn})


class ToyCluster(pulumi.ComponentResource):
    """A top-level component shaped like a small GPU cluster."""

    def __init__(self, name: str, opts=None):
        super().__init__("toy:fleet:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = ["us-west-2a", "us-west-2b"]
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block="10.0.0.0/16",
            enable_dns_hostnames=True,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=f"10.0.{index}.0/24",
                availability_zone=zone,
                opts=child,
            )
            for index, zone in enumerate(zones)
        ]
        self.gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        self.nat_ip = aws.ec2.Eip(f"{name}-nat-ip", domain="vpc", opts=child)
        self.nat = aws.ec2.NatGateway(
            f"{name}-nat", allocation_id=self.nat_ip.allocation_id, subnet_id=self.subnets[0].id, opts=child
        )
        self.security_group = aws.ec2.SecurityGroup(f"{name}-nodes", vpc_id=self.vpc.id, opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-efa-self",
            security_group_id=self.security_group.id,
            referenced_security_group_id=self.security_group.id,
            ip_protocol="-1",
            opts=child,
        )
        # The invokes gpufleet's own program makes (render/aws/policies.py), answered by the mocks.
        account = aws.get_caller_identity().account_id
        partition = aws.get_partition().partition
        assume = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    }
                ],
            }
        )
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume, opts=child)
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            role_arn=self.role.arn,
            version="1.33",
            vpc_config={"subnet_ids": [s.id for s in self.subnets]},
            opts=child,
        )
        self.key = aws.kms.Key(f"{name}-key", description="scratch", opts=child)
        self.scratch = aws.fsx.LustreFileSystem(
            f"{name}-scratch",
            storage_capacity=1200,
            subnet_ids=self.subnets[0].id,
            deployment_type="PERSISTENT_2",
            per_unit_storage_throughput=250,
            kms_key_id=self.key.arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.bucket = aws.s3.Bucket(f"{name}-datasets", opts=child)
        self.pool = NodePool(
            f"{name}-h100",
            self.cluster,
            self.role,
            [s.id for s in self.subnets],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.nat]),
        )
        self.register_outputs({})


def kubeconfig(cluster: aws.eks.Cluster) -> pulumi.Output[str]:
    return pulumi.Output.all(cluster.endpoint, cluster.certificate_authority.data, cluster.name).apply(
        lambda args: json.dumps(
            {
                "apiVersion": "v1",
                "clusters": [{"name": args[2], "cluster": {"server": args[0], "certificate-authority-data": args[1]}}],
            }
        )
    )


def gpu_cluster_program() -> None:
    """Everything at once: components, providers, Kubernetes objects, secrets, exports."""
    spec = pulumi.Config("gpufleet").require("spec")
    region = aws.config.region
    cluster = ToyCluster("toy")
    east = aws.Provider("east", region="us-east-1")
    aws.s3.Bucket("replica", opts=pulumi.ResourceOptions(provider=east))
    kube = k8s.Provider("kube", kubeconfig=pulumi.Output.secret(kubeconfig(cluster.cluster)))
    kube_opts = pulumi.ResourceOptions(provider=kube)
    namespace = k8s.core.v1.Namespace("gpu-operator", opts=kube_opts)
    k8s.core.v1.ConfigMap(
        "fleet-spec",
        metadata={"namespace": namespace.metadata.name},
        data={"spec": spec, "token": pulumi.Output.secret("hunter2")},
        opts=kube_opts,
    )
    k8s.helm.v3.Release(
        "gpu-operator",
        chart="gpu-operator",
        version="v25.3.0",
        namespace=namespace.metadata.name,
        repository_opts={"repo": "https://helm.ngc.nvidia.com/nvidia"},
        opts=kube_opts,
    )
    k8s.apiextensions.CustomResource(
        "h100-pool",
        api_version="karpenter.sh/v1",
        kind="NodePool",
        spec={"limits": {"nvidia.com/gpu": 64}},
        opts=pulumi.ResourceOptions(provider=kube, depends_on=[namespace]),
    )
    pulumi.export("region", region)
    pulumi.export("clusterEndpoint", cluster.cluster.endpoint)
    pulumi.export("vpcId", cluster.vpc.id)
    pulumi.export("subnetCount", len(cluster.subnets))
    pulumi.export("kubeconfig", pulumi.Output.secret(kubeconfig(cluster.cluster)))
