"""Provider resources and functions registered by type token, as the engine receives them.

Why not the SDKs' typed classes (``pulumi_aws.ec2.LaunchTemplate``, ``pulumi_kubernetes.core.v1.
Namespace``): a typed class makes an Output, with its Task and four Futures, for every
property its schema declares, set or not (41 for a launch template, 26 for a node group, about
72 per node pool where the pool's own inputs need 21), and importing one loads its whole
module's generated types (``pulumi_aws.ec2`` about 1 s, ``pulumi_kubernetes.core.v1`` 0.8 s).
What a typed class hands the engine is only its type token, the inputs by their wire
(camelCase) names, and its resource options; the one option it adds is the provider package's
version (``version=``, which picks the same plugin on a real ``pulumi up``), plus aliases for a
few renamed types. ``Registered`` sends exactly that, with Outputs only for the inputs given
and the outputs the program reads.

What holds it to the typed classes: ``tests/program/test_provider_schema.py`` checks every
recorded input against the installed SDK's Args classes (key, nesting, type, required inputs,
what the typed class sets itself), and every registration's version and aliases against what
the typed class would add.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

import pulumi

# The SDK packages whose providers gpufleet uses; a typed class sends its package's version.
SDK_DISTRIBUTIONS = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes"}
PACKAGE_VERSIONS = {package: version(distribution) for package, distribution in SDK_DISTRIBUTIONS.items()}

# Type tokens the typed classes also register under a former token, so state written under
# the old type is adopted rather than replaced (each list as the typed class gives it).
ALIASES: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("aws:s3/bucketV2:BucketV2", "aws:s3/bucketV2:BucketV2"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("aws:s3/bucketVersioningV2:BucketVersioningV2",),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("kubernetes:storage.k8s.io/v1beta1:StorageClass",),
    "kubernetes:scheduling.k8s.io/v1:PriorityClass": (
        "kubernetes:scheduling.k8s.io/v1alpha1:PriorityClass",
        "kubernetes:scheduling.k8s.io/v1beta1:PriorityClass",
    ),
    **{
        f"kubernetes:admissionregistration.k8s.io/v1:{kind}": (
            f"kubernetes:admissionregistration.k8s.io/v1alpha1:{kind}",
            f"kubernetes:admissionregistration.k8s.io/v1beta1:{kind}",
        )
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    },
}


def package_version(token: str) -> str:
    """The version a typed class of ``token``'s package would send (``aws:...`` -> pulumi_aws's)."""
    return PACKAGE_VERSIONS[token.split(":", 1)[0]]


class Registered(pulumi.CustomResource):
    """A provider resource registered by type token with its inputs under their wire names.

    ``outputs`` names the provider outputs the program reads (beyond ``id``, ``urn`` and the
    inputs, which the engine also returns); ``output(name)`` gives one.
    """

    def __init__(
        self,
        token: str,
        name: str,
        inputs: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        outputs: Sequence[str] = (),
    ) -> None:
        # None is what the typed classes hold for an unset input or an output: never sent.
        props = {**dict.fromkeys(outputs), **inputs}
        own = pulumi.ResourceOptions(
            version=package_version(token), aliases=[pulumi.Alias(type_=alias) for alias in ALIASES.get(token, ())]
        )
        super().__init__(token, name, props, pulumi.ResourceOptions.merge(own, opts))

    def output(self, name: str) -> pulumi.Output[Any]:
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"{self._name}: {name!r} is neither an input nor a declared output of this resource") from None


def kubernetes_object(
    api_version: str, kind: str, name: str, body: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
) -> Registered:
    """A Kubernetes object through the Kubernetes provider, with ``apiVersion`` and ``kind`` as its typed class sets them."""
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return Registered(f"kubernetes:{group_version}:{kind}", name, {"apiVersion": api_version, "kind": kind, **body}, opts)


def invoke(token: str, args: Mapping[str, Any] | None = None) -> pulumi.Output[dict[str, Any]]:
    """A provider function's result, keyed by wire names, invoked as its typed function invokes it."""
    return pulumi.runtime.invoke_output(token, dict(args or {}), opts=pulumi.InvokeOutputOptions(version=package_version(token)))
