"""Security policies: what AWS requires of a GPU fleet's nodes, storage, network and identity.

Each names the pool or tier that owns the offending resource and says what to change. They
judge what AWS accepts, not what gpufleet's renderer happens to emit today.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gpufleet.names import linear_matcher
from gpufleet.policy.pack.definitions import resource_policy, stack_policy
from gpufleet.policy.pack.graph import (
    BUCKET_TYPES,
    EKS_CLUSTER,
    LAUNCH_TEMPLATE,
    LUSTRE,
    PRODUCTION_STACKS_SCHEMA,
    at_field,
    owner,
    owner_kind,
    secret_config_keys,
    stack_config,
    truthy,
    urn_type,
)
from gpufleet.policy.pack.plan import production

WORLD = ("0.0.0.0/0", "::/0")
ADMIN_POLICY_ARNS = re.compile(r"arn:aws[-a-z]*:iam::aws:policy/(AdministratorAccess|PowerUserAccess|IAMFullAccess)\Z")
SECRET_KEY_NAMES = r"(password|passwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key)"
SECRET_VALUES = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _parent(args: Any) -> str | None:
    return args.opts.parent if args.opts else None


# --- IMDSv2 -------------------------------------------------------------------------------


def _imdsv2(args: Any, report: Any) -> None:
    if args.resource_type not in (LAUNCH_TEMPLATE, "aws:ec2/instance:Instance"):
        return
    limit = int(args.get_config().get("max_hop_limit", 2))
    options = args.props.get("metadataOptions") or {}
    where = owner(_parent(args))
    if options.get("httpTokens") != "required":
        report(f"{where}: {args.name} allows IMDSv1; set metadataOptions.httpTokens to 'required'.")
    hops = options.get("httpPutResponseHopLimit")
    if hops is None:
        report(
            f"{where}: {args.name} leaves metadataOptions.httpPutResponseHopLimit unset; set it to {limit} so pods reach IMDS."
        )
    elif int(hops) > limit:
        report(
            f"{where}: {args.name} has metadataOptions.httpPutResponseHopLimit {int(hops)}; set it to {limit} so IMDS answers pods and no further."
        )


# --- encryption at rest ---------------------------------------------------------------------


def _volumes_of(template: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    for mapping in template.props.get("blockDeviceMappings") or []:
        if mapping.get("ebs") is not None:
            yield mapping.get("deviceName", "?"), mapping["ebs"]


def _bucket_children(resources: list[Any], bucket: Any, type_token: str) -> list[Any]:
    """Bucket settings are resources of their own that depend on the bucket (or name it)."""
    name = bucket.props.get("bucket")
    return [
        resource
        for resource in resources
        if resource.resource_type == type_token
        and (bucket.urn in _dependency_urns(resource) or (name is not None and resource.props.get("bucket") == name))
    ]


def _dependency_urns(resource: Any) -> set[str]:
    urns = {dependency.urn for dependency in resource.dependencies}
    return urns | {dependency.urn for deps in resource.property_dependencies.values() for dependency in deps}


def _encrypted(args: Any, report: Any) -> None:
    resources = list(args.resources)
    for resource in resources:
        where = owner(resource.opts.parent)
        if resource.resource_type == LAUNCH_TEMPLATE:
            for device, ebs in _volumes_of(resource):
                if not truthy(ebs.get("encrypted")):
                    report(
                        f"{where}: {resource.name} volume {device} is not encrypted; set ebs.encrypted to true (and kmsKeyId for a key of your own).",
                        resource.urn,
                    )
        elif resource.resource_type == "aws:ebs/volume:Volume" and not truthy(resource.props.get("encrypted")):
            report(f"{where}: EBS volume {resource.name} is not encrypted; set encrypted to true with a KMS key.", resource.urn)
        elif resource.resource_type == LUSTRE:
            deployment = str(resource.props.get("deploymentType") or "SCRATCH_1")
            if deployment.startswith("PERSISTENT") and not resource.props.get("kmsKeyId"):
                report(
                    f"{where}: FSx file system {resource.name} uses FSx's default key; set kmsKeyId to a customer-managed KMS key.",
                    resource.urn,
                )
        elif resource.resource_type in BUCKET_TYPES and not _bucket_kms(resources, resource):
            report(
                f"{where}: bucket {resource.name} has no default encryption with KMS; add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms.",
                resource.urn,
            )


def _bucket_kms(resources: list[Any], bucket: Any) -> bool:
    inline = (bucket.props.get("serverSideEncryptionConfiguration") or {}).get("rule") or {}
    rules = [inline] if inline else []
    for config in _bucket_children(
        resources, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        rules.extend(config.props.get("rules") or [])
    return any(
        (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse")
        for rule in rules
    )


# --- S3 access ------------------------------------------------------------------------------

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _public_access(args: Any, report: Any) -> None:
    resources = list(args.resources)
    for bucket in (r for r in resources if r.resource_type in BUCKET_TYPES):
        blocks = _bucket_children(resources, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        missing = [flag for flag in PUBLIC_ACCESS_FLAGS if not any(truthy(b.props.get(flag)) for b in blocks)]
        if missing:
            report(
                f"{owner(bucket.opts.parent)}: bucket {bucket.name} does not block public access ({', '.join(missing)}); add a BucketPublicAccessBlock with all four set to true.",
                bucket.urn,
            )


def _statements(policy: Any) -> list[dict[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else (policy or {})
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
    return statement.get("Effect") == "Deny" and str(secure).lower() == "false"


def _tls_only(args: Any, report: Any) -> None:
    resources = list(args.resources)
    for bucket in (r for r in resources if r.resource_type in BUCKET_TYPES):
        policies = _bucket_children(resources, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        if not any(_denies_plain_http(s) for p in policies for s in _statements(p.props.get("policy"))):
            report(
                f"{owner(bucket.opts.parent)}: bucket {bucket.name} accepts plain HTTP; add a BucketPolicy that denies s3:* when aws:SecureTransport is false.",
                bucket.urn,
            )


# --- network --------------------------------------------------------------------------------


def _no_public_ip(args: Any, report: Any) -> None:
    where = owner(_parent(args))
    if args.resource_type == LAUNCH_TEMPLATE:
        for nic in args.props.get("networkInterfaces") or []:
            if truthy(nic.get("associatePublicIpAddress")):
                report(
                    f"{where}: {args.name} gives interface {int(nic.get('networkCardIndex', 0))}/{int(nic.get('deviceIndex', 0))} a public IP; set associatePublicIpAddress to false."
                )
    elif args.resource_type == "aws:ec2/subnet:Subnet" and truthy(args.props.get("mapPublicIpOnLaunch")):
        report(
            f"{where}: subnet {args.name} gives every instance launched in it a public IP; set mapPublicIpOnLaunch to false (NAT gateways need none)."
        )
    elif args.resource_type == "aws:ec2/instance:Instance" and truthy(args.props.get("associatePublicIpAddress")):
        report(f"{where}: instance {args.name} has a public IP; set associatePublicIpAddress to false.")


def _world_sources(rule: dict[str, Any]) -> list[str]:
    sources = [rule.get("cidrIpv4"), rule.get("cidrIpv6"), *(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]
    return [source for source in sources if source in WORLD]


def _no_world_ingress(args: Any, report: Any) -> None:
    where = owner(_parent(args))
    props = args.props
    if args.resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" or (
        args.resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule" and props.get("type") == "ingress"
    ):
        open_to = _world_sources(props)
    elif args.resource_type == "aws:ec2/securityGroup:SecurityGroup":
        open_to = [source for rule in props.get("ingress") or [] for source in _world_sources(rule)]
    else:
        return
    if open_to:
        report(
            f"{where}: {args.name} admits traffic from {', '.join(sorted(set(open_to)))}; allow only the security groups or CIDRs that need it."
        )


EFA_RULE_TYPES = (
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)


def _depends_on(resource: Any, key: str, urn: str) -> bool | None:
    """Whether property ``key`` came from ``urn``; None when the engine sent no property dependencies."""
    if not resource.property_dependencies:
        return None
    return any(dep.urn == urn for dep in resource.property_dependencies.get(key, []))


def _efa_self_only(args: Any, report: Any) -> None:
    resources = list(args.resources)
    for group in resources:
        if (
            group.resource_type != "aws:ec2/securityGroup:SecurityGroup"
            or owner_kind(urn_type(group.opts.parent or "")) != "fabric"
        ):
            continue
        where = owner(group.opts.parent)
        rules = [r for r in resources if r.resource_type in EFA_RULE_TYPES and _targets(r, group)]
        for rule in rules:
            if not _self_referencing(rule, group):
                report(
                    f"{where}: {rule.name} lets traffic cross the EFA security group's boundary; EFA rules may reference the group itself only.",
                    rule.urn,
                )
        for direction in ("Ingress", "Egress"):
            if not any(
                r.resource_type.endswith(f"securityGroup{direction}Rule:SecurityGroup{direction}Rule")
                and _self_referencing(r, group)
                for r in rules
            ):
                report(
                    f"{where}: EFA security group {group.name} has no all-traffic {direction.lower()} rule from itself; EFA needs both directions within the group.",
                    group.urn,
                )
        for inline in ("ingress", "egress"):
            for entry in group.props.get(inline) or []:
                if not entry.get("self"):
                    report(
                        f"{where}: EFA security group {group.name} has an inline {inline} rule to somewhere other than itself; reference the group only.",
                        group.urn,
                    )


def _targets(rule: Any, group: Any) -> bool:
    by_dependency = _depends_on(rule, "securityGroupId", group.urn)
    if by_dependency is not None:
        return by_dependency
    return rule.opts.parent == group.opts.parent


def _self_referencing(rule: Any, group: Any) -> bool:
    if _world_sources(rule.props) or rule.props.get("cidrIpv4") or rule.props.get("cidrIpv6") or rule.props.get("prefixListId"):
        return False
    by_dependency = _depends_on(rule, "referencedSecurityGroupId", group.urn)
    if by_dependency is not None:
        return by_dependency
    referenced = rule.props.get("referencedSecurityGroupId")
    return referenced is not None and referenced == rule.props.get("securityGroupId")


# --- identity -------------------------------------------------------------------------------


def _wildcard_actions(document: Any) -> list[str]:
    found = []
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        for action in [actions] if isinstance(actions, str) else actions:
            if action == "*" or action.endswith(":*"):
                found.append(action)
    return found


def _least_privilege(args: Any, report: Any) -> None:
    where = owner(_parent(args))
    props = args.props
    if args.resource_type in ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment"):
        arn = str(props.get("policyArn") or "")
        if ADMIN_POLICY_ARNS.match(arn):
            report(
                f"{where}: {args.name} attaches {arn.rsplit('/', 1)[-1]}; attach only the managed policies nodes need (EKS worker, CNI, ECR read-only)."
            )
    elif args.resource_type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        wildcards = _wildcard_actions(props.get("policy"))
        if wildcards:
            report(f"{where}: {args.name} allows {', '.join(sorted(set(wildcards)))}; name the actions the role needs.")
    elif args.resource_type == "aws:iam/role:Role":
        for arn in props.get("managedPolicyArns") or []:
            if ADMIN_POLICY_ARNS.match(str(arn)):
                report(f"{where}: role {args.name} carries {str(arn).rsplit('/', 1)[-1]}; drop it.")
        for inline in props.get("inlinePolicies") or []:
            wildcards = _wildcard_actions(inline.get("policy"))
            if wildcards:
                report(
                    f"{where}: role {args.name}'s inline policy allows {', '.join(sorted(set(wildcards)))}; name the actions instead."
                )


# --- control plane --------------------------------------------------------------------------


def _endpoint_private(args: Any, report: Any) -> None:
    if args.resource_type != EKS_CLUSTER or not production(args):
        return
    vpc = args.props.get("vpcConfig") or {}
    public = vpc.get("endpointPublicAccess")
    cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
    if public is not False and any(cidr in WORLD for cidr in cidrs):
        report(
            at_field(
                f"{owner(_parent(args))}: the Kubernetes API ({args.name}) is open to the whole internet in a production "
                "stack; list only your own networks in cluster.endpoint.public_cidrs, or none to keep it private to the VPC.",
                "cluster",
                "endpoint",
                "public_cidrs",
            )
        )


def _audit_logs(args: Any, report: Any) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    required = args.get_config().get("log_types", ["api", "audit", "authenticator"])
    enabled = set(args.props.get("enabledClusterLogTypes") or [])
    missing = [kind for kind in required if kind not in enabled]
    if missing:
        report(
            at_field(
                f"{owner(_parent(args))}: {args.name} does not log {', '.join(missing)}; add them to cluster.log_types.",
                "cluster",
                "log_types",
            )
        )


def _key_rotation(args: Any, report: Any) -> None:
    if args.resource_type != "aws:kms/key:Key":
        return
    spec = args.props.get("customerMasterKeySpec") or args.props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and not truthy(args.props.get("enableKeyRotation")):
        report(f"{owner(_parent(args))}: KMS key {args.name} is not rotated; set enableKeyRotation to true.")


def _strings(value: Any) -> Iterable[str]:
    """Every string in a property tree (the SDK hands out read-only Mapping/Sequence proxies)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, Sequence):
        for item in value:
            yield from _strings(item)


def _no_plaintext_secrets(args: Any, report: Any) -> None:
    # The pattern comes from the policy config, user input: searched in linear time, case-insensitively.
    names = linear_matcher(f"(?i:{args.get_config().get('secret_key_pattern', SECRET_KEY_NAMES)})", whole=False)
    secret = secret_config_keys()
    for key, value in sorted(stack_config().items()):
        if key not in secret and (names(key.split(":", 1)[-1]) or SECRET_VALUES.search(str(value))):
            report(f"stack config {key} is stored in plain text; set it with `pulumi config set --secret {key}`.")
    for resource in args.resources:
        if any(SECRET_VALUES.search(text) for text in _strings(resource.props)):
            report(
                f"{owner(resource.opts.parent)}: {resource.name} carries a credential in its inputs; read it from a secret instead.",
                resource.urn,
            )


POLICIES = [
    resource_policy(
        "GF-SEC-001",
        "imdsv2-required",
        "Nodes require IMDSv2 with a hop limit pods can use and no more.",
        _imdsv2,
        fix="Set metadataOptions httpTokens 'required' and httpPutResponseHopLimit to at most 2.",
        category="security",
        schema={
            "max_hop_limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 64,
                "default": 2,
                "description": "Highest IMDS hop limit allowed. EC2 takes 1 to 64 and defaults to 1, which IMDSv2 "
                "answers only on the host; a pod is one hop further, hence 2. Source: "
                "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateInstanceMetadataOptionsRequest.html",
            }
        },
    ),
    stack_policy(
        "GF-SEC-002",
        "storage-encrypted-kms",
        "EBS volumes, FSx file systems and S3 buckets are encrypted with KMS.",
        _encrypted,
        fix="Encrypt each volume, file system and bucket with a KMS key.",
        category="security",
    ),
    stack_policy(
        "GF-SEC-003",
        "s3-public-access-blocked",
        "Every S3 bucket blocks public access.",
        _public_access,
        fix="Add a BucketPublicAccessBlock with all four flags true.",
        category="security",
    ),
    # Advisory until the AWS renderer adds a TLS-only bucket policy (issue 8); then mandatory.
    stack_policy(
        "GF-SEC-004",
        "s3-tls-only",
        "Every S3 bucket refuses requests that are not over TLS.",
        _tls_only,
        fix="Add a bucket policy denying s3:* when aws:SecureTransport is false.",
        category="security",
    ),
    resource_policy(
        "GF-SEC-005",
        "no-public-ip-on-nodes",
        "No node interface or node subnet hands out public IPs.",
        _no_public_ip,
        fix="Set associatePublicIpAddress and mapPublicIpOnLaunch to false.",
        category="security",
    ),
    resource_policy(
        "GF-SEC-006",
        "no-world-ingress",
        "No security group admits traffic from 0.0.0.0/0 or ::/0.",
        _no_world_ingress,
        fix="Reference the security groups that need access instead of the whole internet.",
        category="security",
    ),
    stack_policy(
        "GF-SEC-007",
        "efa-security-group-self-only",
        "EFA security groups allow all traffic within the group and nothing else.",
        _efa_self_only,
        fix="Give the EFA group one ingress and one egress rule referencing itself, and no others.",
        category="security",
    ),
    resource_policy(
        "GF-SEC-008",
        "node-role-least-privilege",
        "IAM roles and policies grant no administrator access or wildcard actions.",
        _least_privilege,
        fix="Attach the managed policies nodes need and name actions explicitly.",
        category="security",
    ),
    # Advisory until the AWS renderer restricts the endpoint in production (issue 8); then mandatory.
    resource_policy(
        "GF-SEC-009",
        "eks-endpoint-not-public-in-production",
        "A production cluster's API endpoint is not open to the whole internet.",
        _endpoint_private,
        fix="List only your own networks in cluster.endpoint.public_cidrs, or leave it empty to keep the API private to the VPC.",
        category="security",
        schema=PRODUCTION_STACKS_SCHEMA,
    ),
    resource_policy(
        "GF-SEC-010",
        "eks-audit-logging",
        "The EKS control plane ships its audit log.",
        _audit_logs,
        fix="Keep api, audit and authenticator in cluster.log_types.",
        category="security",
        schema={
            "log_types": {
                "type": "array",
                "items": {"type": "string", "enum": ["api", "audit", "authenticator", "controllerManager", "scheduler"]},
                "default": ["api", "audit", "authenticator"],
                "description": "Control-plane log types that must be on.",
            }
        },
    ),
    resource_policy(
        "GF-SEC-011",
        "kms-key-rotation",
        "Symmetric KMS keys rotate.",
        _key_rotation,
        fix="Set enableKeyRotation to true.",
        category="security",
    ),
    stack_policy(
        "GF-SEC-012",
        "no-plaintext-secrets",
        "No secret sits in plain text in stack config or resource inputs.",
        _no_plaintext_secrets,
        fix="Store secrets with `pulumi config set --secret` and pass them as secret Outputs.",
        category="security",
        schema={
            "secret_key_pattern": {
                "type": "string",
                "default": SECRET_KEY_NAMES,
                "description": "Regular expression for config key names that hold secrets.",
            }
        },
    ),
]
