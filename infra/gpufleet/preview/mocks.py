"""Deterministic stand-ins for the AWS and Kubernetes providers.

Every id, ARN and name is derived from a hash of the resource's type token and
logical name, so two runs of the same program produce identical outputs, and
the shapes (prefixes, ARN layouts, endpoints) match what the real providers
return closely enough for programs to chain outputs into inputs.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

ACCOUNT_ID = "123456789012"
PARTITION = "aws"
DEFAULT_REGION = "us-east-1"
DEFAULT_EKS_VERSION = "1.33"


def stable_digest(*parts: str) -> str:
    """Hex SHA-256 of the parts; the only source of "randomness" in the mocks."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


_COMPASS_WORDS = re.compile("north|south|east|west|central")


def zone_id_prefix(region: str) -> str:
    """AWS's short region code used in zone ids: us-east-1 -> use1, ap-southeast-2 -> apse2."""
    area, *words, number = region.split("-")
    short = "".join("".join(w[0] for w in _COMPASS_WORDS.findall(word)) or word[0] for word in words)
    return f"{area}{short}{number}"


class _Minted:
    """Identifier factory for one resource, seeded by its type token and name."""

    def __init__(self, args: MockResourceArgs, region: str, account_id: str) -> None:
        self.token = args.typ
        self.name = args.name
        self.inputs = args.inputs
        self.region = region
        self.account_id = account_id

    def hex(self, length: int, salt: str = "") -> str:
        return stable_digest(self.token, self.name, salt)[:length]

    def aws_id(self, prefix: str, salt: str = "") -> str:
        """An EC2-style id such as `vpc-0a1b2c3d4e5f60718` (17 hex digits)."""
        return f"{prefix}-{self.hex(17, salt)}"

    def base32(self, length: int, salt: str = "") -> str:
        """Uppercase letters and digits 2-7, as in IAM unique ids."""
        raw = bytes.fromhex(stable_digest(self.token, self.name, salt))
        return base64.b32encode(raw).decode()[:length]

    def uuid(self, salt: str = "") -> str:
        h = self.hex(32, salt)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def autoname(self, key: str, prefix_key: str | None = None, lower: bool = False) -> str:
        """The given name input, else `<prefix or logical name>-<7 hex>` like Pulumi's autonaming."""
        if self.inputs.get(key):
            return self.inputs[key]
        stem = self.inputs.get(prefix_key) if prefix_key else None
        name = f"{stem}{self.hex(7)}" if stem else f"{self.name}-{self.hex(7)}"
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{PARTITION}:{service}:{region}:{self.account_id}:{resource}"


Outputs = dict[str, Any]
_ResourceBuilder = Callable[["FleetMocks", _Minted], tuple[str, Outputs]]


def _ec2(kind: str, prefix: str) -> _ResourceBuilder:
    """Builder for EC2 resources whose id is `<prefix>-<hex>` and ARN `ec2:...:<kind>/<id>`."""

    def build(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
        resource_id = m.aws_id(prefix)
        return resource_id, {"arn": m.arn("ec2", f"{kind}/{resource_id}"), "ownerId": m.account_id}

    return build


def _route_table_association(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    return m.aws_id("rtbassoc"), {}


def _vpc(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    vpc_id = m.aws_id("vpc")
    return vpc_id, {
        "arn": m.arn("ec2", f"vpc/{vpc_id}"),
        "ownerId": m.account_id,
        "defaultSecurityGroupId": m.aws_id("sg", "default"),
        "defaultRouteTableId": m.aws_id("rtb", "main"),
        "mainRouteTableId": m.aws_id("rtb", "main"),
        "defaultNetworkAclId": m.aws_id("acl", "default"),
        "dhcpOptionsId": m.aws_id("dopt"),
    }


def _subnet(mocks: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    subnet_id = m.aws_id("subnet")
    outputs = {"arn": m.arn("ec2", f"subnet/{subnet_id}"), "ownerId": m.account_id}
    zone = m.inputs.get("availabilityZone")
    if zone and zone.startswith(mocks.region) and len(zone) == len(mocks.region) + 1:
        outputs["availabilityZoneId"] = mocks.zone_id(zone[-1])
    return subnet_id, outputs


def _security_group(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    group_id = m.aws_id("sg")
    return group_id, {
        "arn": m.arn("ec2", f"security-group/{group_id}"),
        "name": m.autoname("name", "namePrefix"),
        "ownerId": m.account_id,
    }


def _security_group_rule_v2(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    rule_id = m.aws_id("sgr")
    return rule_id, {
        "arn": m.arn("ec2", f"security-group-rule/{rule_id}"),
        "securityGroupRuleId": rule_id,
    }


def _eip(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    allocation_id = m.aws_id("eipalloc")
    return allocation_id, {
        "allocationId": allocation_id,
        "arn": m.arn("ec2", f"elastic-ip/{allocation_id}"),
        "domain": m.inputs.get("domain", "vpc"),
        "publicIp": _documentation_ip(m),
    }


def _documentation_ip(m: _Minted) -> str:
    """An address in TEST-NET-3 (203.0.113.0/24), reserved for documentation."""
    return f"203.0.113.{int(m.hex(4), 16) % 254 + 1}"


def _nat_gateway(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    nat_id = m.aws_id("nat")
    return nat_id, {
        "networkInterfaceId": m.aws_id("eni"),
        "privateIp": f"10.0.{int(m.hex(2), 16)}.{int(m.hex(2, 'host'), 16) % 254 + 1}",
        "publicIp": _documentation_ip(m),
    }


def _route(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    return f"r-{m.inputs.get('routeTableId', m.aws_id('rtb'))}{int(m.hex(8), 16)}", {}


def _launch_template(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    template_id = m.aws_id("lt")
    return template_id, {
        "arn": m.arn("ec2", f"launch-template/{template_id}"),
        "name": m.autoname("name", "namePrefix"),
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _placement_group(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    name = m.autoname("name")
    return name, {
        "name": name,
        "arn": m.arn("ec2", f"placement-group/{name}"),
        "placementGroupId": m.aws_id("pg"),
    }


def _lustre_file_system(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    fs_id = m.aws_id("fs")
    return fs_id, {
        "arn": m.arn("fsx", f"file-system/{fs_id}"),
        "dnsName": f"{fs_id}.fsx.{m.region}.amazonaws.com",
        "mountName": m.base32(8).lower(),
        "networkInterfaceIds": [m.aws_id("eni", "fsx")],
        "ownerId": m.account_id,
    }


def _bucket(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    bucket = m.autoname("bucket", "bucketPrefix", lower=True)
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:{PARTITION}:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{m.region}.amazonaws.com",
        "region": m.inputs.get("region", m.region),
    }


def _eks_cluster(mocks: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    name = m.autoname("name")
    vpc_config = dict(m.inputs.get("vpcConfig") or {})
    vpc_config["clusterSecurityGroupId"] = m.aws_id("sg", "eks-cluster")
    subnet_ids = vpc_config.get("subnetIds") or []
    vpc_id = mocks.output_of(subnet_ids[0], "vpcId") if subnet_ids else None
    if vpc_id:
        vpc_config["vpcId"] = vpc_id
    return name, {
        "name": name,
        "arn": m.arn("eks", f"cluster/{name}"),
        "endpoint": f"https://{m.hex(32).upper()}.gr7.{m.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": _fake_certificate(m)},
        "version": m.inputs.get("version", DEFAULT_EKS_VERSION),
        "platformVersion": "eks.1",
        "status": "ACTIVE",
        "vpcConfig": vpc_config,
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{m.region}.amazonaws.com/id/{m.hex(32, 'oidc').upper()}"}]}],
    }


def _fake_certificate(m: _Minted) -> str:
    """Base64 of a PEM-shaped block, as EKS returns certificate-authority data."""
    body = base64.b64encode(bytes.fromhex(m.hex(64, "ca") * 3)).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def _eks_node_group(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    cluster = m.inputs.get("clusterName", "cluster")
    group = m.autoname("nodeGroupName", "nodeGroupNamePrefix")
    return f"{cluster}:{group}", {
        "nodeGroupName": group,
        "arn": m.arn("eks", f"nodegroup/{cluster}/{group}/{m.uuid()}"),
        "status": "ACTIVE",
        "version": m.inputs.get("version", DEFAULT_EKS_VERSION),
        "resources": [{"autoscalingGroups": [{"name": f"eks-{group}-{m.uuid()}"}]}],
    }


def _eks_addon(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    cluster = m.inputs.get("clusterName", "cluster")
    addon = m.inputs.get("addonName", m.name)
    return f"{cluster}:{addon}", {"arn": m.arn("eks", f"addon/{cluster}/{addon}/{m.uuid()}")}


def _iam_role(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    name = m.autoname("name", "namePrefix")
    path = m.inputs.get("path", "/")
    return name, {
        "name": name,
        "arn": m.arn("iam", f"role{path}{name}", regional=False),
        "uniqueId": f"AROA{m.base32(17)}",
    }


def _kms_key(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    key_id = m.uuid()
    return key_id, {"keyId": key_id, "arn": m.arn("kms", f"key/{key_id}")}


def _generic_aws(_: FleetMocks, m: _Minted) -> tuple[str, Outputs]:
    """Any other AWS resource: `<name>-<hex>` id and an ARN in the service's namespace."""
    module, kind = m.token.split(":")[1].split("/")
    resource_id = f"{m.name}-{m.hex(7)}"
    kebab_kind = re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()
    return resource_id, {"arn": m.arn(module, f"{kebab_kind}/{resource_id}")}


_AWS_RESOURCES: dict[str, _ResourceBuilder] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _security_group_rule_v2,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _security_group_rule_v2,
    "aws:ec2/internetGateway:InternetGateway": _ec2("internet-gateway", "igw"),
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/routeTable:RouteTable": _ec2("route-table", "rtb"),
    "aws:ec2/route:Route": _route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _route_table_association,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:ec2/placementGroup:PlacementGroup": _placement_group,
    "aws:fsx/lustreFileSystem:LustreFileSystem": _lustre_file_system,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:iam/role:Role": _iam_role,
    "aws:kms/key:Key": _kms_key,
}


def _kubernetes_object(m: _Minted) -> tuple[str, Outputs]:
    """Echo a Kubernetes object with `metadata.name` filled in as the provider autonames it."""
    metadata = dict(m.inputs.get("metadata") or {})
    metadata.setdefault("name", f"{m.name}-{m.hex(8)}")
    namespace = metadata.get("namespace")
    object_id = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
    return object_id, {"metadata": metadata}


def _helm_release(m: _Minted) -> tuple[str, Outputs]:
    name = m.inputs.get("name") or f"{m.name}-{m.hex(8)}"
    namespace = m.inputs.get("namespace", "default")
    status = {
        "name": name,
        "namespace": namespace,
        "chart": m.inputs.get("chart", ""),
        "version": m.inputs.get("version", ""),
        "revision": 1,
        "status": "deployed",
    }
    return f"{namespace}/{name}", {"name": name, "namespace": namespace, "status": status}


class FleetMocks(Mocks):
    """Pulumi `Mocks` that imitate the AWS and Kubernetes providers offline.

    Resource outputs are the inputs plus computed attributes; invokes return
    data shaped like the real data sources. Invoke tokens without a handler
    echo their arguments and are listed in `unknown_invokes`.
    """

    def __init__(self, region: str = DEFAULT_REGION, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self._lock = threading.Lock()
        self._unknown_invokes: set[str] = set()
        self._outputs_by_id: dict[str, Outputs] = {}
        self._invokes: dict[str, Callable[[dict[str, Any]], Outputs]] = {
            "aws:ssm/getParameter:getParameter": self._get_parameter,
            "aws:index/getCallerIdentity:getCallerIdentity": self._get_caller_identity,
            "aws:index/getPartition:getPartition": self._get_partition,
        }

    @property
    def unknown_invokes(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._unknown_invokes))

    def zone_id(self, letter: str) -> str:
        return f"{zone_id_prefix(self.region)}-az{ord(letter) - ord('a') + 1}"

    def output_of(self, resource_id: str, key: str) -> Any:
        """An output of a resource created earlier in this run, found by its id."""
        with self._lock:
            return self._outputs_by_id.get(resource_id, {}).get(key)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, Outputs]:
        if not args.custom:
            return "", dict(args.inputs)
        minted = _Minted(args, self.region, self.account_id)
        token = args.typ
        computed: Outputs
        if token.startswith("pulumi:providers:"):
            resource_id, computed = minted.uuid(), {}
        elif token == "kubernetes:helm.sh/v3:Release":
            resource_id, computed = _helm_release(minted)
        elif token.startswith("kubernetes:"):
            resource_id, computed = _kubernetes_object(minted)
        elif token.startswith("aws:"):
            resource_id, computed = _AWS_RESOURCES.get(token, _generic_aws)(self, minted)
        else:
            resource_id, computed = f"{args.name}-{minted.hex(7)}", {}
        resource_id = args.resource_id or resource_id
        outputs = {**args.inputs, **computed}
        with self._lock:
            self._outputs_by_id[resource_id] = outputs
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        handler = self._invokes.get(args.token)
        if handler is None:
            with self._lock:
                self._unknown_invokes.add(args.token)
            return dict(args.args), None
        return handler(args.args), None

    def _get_parameter(self, args: dict[str, Any]) -> Outputs:
        name = args["name"]
        public = name.startswith("/aws/service/")
        if public and re.search(r"/(eks|bottlerocket|ami-)", name):
            value = f"ami-{stable_digest('ssm', name)[:17]}"
        else:
            value = f"mock-{stable_digest('ssm', name)[:16]}"
        owner = "" if public else self.account_id
        return {
            "id": name,
            "name": name,
            "arn": f"arn:{PARTITION}:ssm:{self.region}:{owner}:parameter{name}",
            "type": "String",
            "value": value,
            "insecureValue": value,
            "version": 1,
            "withDecryption": args.get("withDecryption", True),
        }

    def _get_caller_identity(self, _: dict[str, Any]) -> Outputs:
        return {
            "id": self.account_id,
            "accountId": self.account_id,
            "arn": f"arn:{PARTITION}:iam::{self.account_id}:user/gpufleet-preview",
            "userId": "AIDA" + stable_digest("caller", self.account_id)[:17].upper(),
        }

    def _get_partition(self, _: dict[str, Any]) -> Outputs:
        return {
            "id": PARTITION,
            "partition": PARTITION,
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
        }
