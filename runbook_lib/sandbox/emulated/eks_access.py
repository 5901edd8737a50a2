"""EKS access entries and their access policies: the sandbox's stand-in for what moto's EKS lacks.

moto 5.2.5 has no access entries. The Terraform AWS provider's ``aws_eks_access_entry``
and ``aws_eks_access_policy_association`` call CreateAccessEntry, DescribeAccessEntry,
DeleteAccessEntry, AssociateAccessPolicy, ListAssociatedAccessPolicies and
DisassociateAccessPolicy; the runbook's postflight check and the sandbox's kubectl
stand-in read ListAccessEntries. Rules copied from AWS that a user trips on:

- the cluster must exist (ResourceNotFoundException "No cluster found for name");
- a principal is an IAM role or user ARN, one entry per principal per cluster
  (ResourceInUseException);
- an access policy is one of EKS's own (``arn:aws:eks::aws:cluster-access-policy/...``),
  with a scope of ``cluster`` or ``namespace`` (then with namespaces);
- entries live on the cluster in moto's own EKS backend (they go with it).

Paths carry the principal's and the policy's ARNs URL-encoded; they are read from the
raw request line, where their slashes are still ``%2F``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlsplit

from moto.core.responses import BaseResponse
from moto.core.utils import unix_time

POLICIES = ("AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy",
            "AmazonEKSAdminViewPolicy")
POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
PRINCIPAL = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+")
URL_PATH = "{0}/clusters/(?P<name>[^/]+)/access-entries(?P<rest>.*)$"


class _Error(Exception):
    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.status = code, status


def _entries(cluster) -> dict:
    if not hasattr(cluster, "runbook_access_entries"):
        cluster.runbook_access_entries = {}
    return cluster.runbook_access_entries


def _describe(cluster, principal: str, entry: dict) -> dict:
    return {"clusterName": cluster.name, "principalArn": principal, "kubernetesGroups": entry["groups"],
            "accessEntryArn": entry["arn"], "createdAt": entry["created"], "modifiedAt": entry["modified"],
            "tags": entry["tags"], "username": entry["username"], "type": entry["type"]}


class EKSAccessResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name="eks")

    def access_entries(self, request, full_url: str, headers) -> tuple[int, dict, str]:
        self.setup_class(request, full_url, headers)
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or urlsplit(full_url).path
        parts = urlsplit(raw).path.split("/")   # ['', 'clusters', NAME, 'access-entries', PRINCIPAL?, 'access-policies'?, POLICY?]
        try:
            return 200, {"Content-Type": "application/json"}, json.dumps(self._route(request.method, parts))
        except _Error as error:
            body = {"__type": error.code, "message": str(error)}
            return error.status, {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}, json.dumps(body)

    def _cluster(self, name: str):
        from moto.eks.models import eks_backends

        cluster = eks_backends[self.current_account][self.region].clusters.get(name)
        if cluster is None:
            raise _Error("ResourceNotFoundException", f"No cluster found for name: {name}.", 404)
        return cluster

    def _route(self, method: str, parts: list[str]) -> dict:
        cluster = self._cluster(unquote(parts[2]))
        entries = _entries(cluster)
        principal = unquote(parts[4]) if len(parts) > 4 else None
        if principal is None:
            if method == "POST":
                return self._create(cluster, entries)
            wanted = self._get_param("associatedPolicyArn") or self.querystring.get("associatedPolicyArn", [None])[0]
            return {"accessEntries": sorted(p for p, e in entries.items()
                                            if not wanted or any(a["policyArn"] == wanted for a in e["policies"]))}
        entry = entries.get(principal)
        if entry is None:
            raise _Error("ResourceNotFoundException", "The specified principalArn could not be found. You can view "
                         "your available access entries with 'list-access-entries'.", 404)
        if len(parts) == 5:
            if method == "DELETE":
                del entries[principal]
                return {}
            if method == "POST":
                for key, field in (("kubernetesGroups", "groups"), ("username", "username")):
                    if self._get_param(key) is not None:
                        entry[field] = self._get_param(key)
                entry["modified"] = unix_time()
            return {"accessEntry": _describe(cluster, principal, entry)}
        if parts[5] != "access-policies":
            raise _Error("InvalidRequestException", f"unknown path {'/'.join(parts)}", 400)
        if len(parts) == 7 and method == "DELETE":
            policy = unquote(parts[6])
            entry["policies"] = [a for a in entry["policies"] if a["policyArn"] != policy]
            return {}
        if method == "POST":
            return self._associate(cluster, principal, entry)
        return {"clusterName": cluster.name, "principalArn": principal, "associatedAccessPolicies": entry["policies"]}

    def _create(self, cluster, entries: dict) -> dict:
        principal = self._get_param("principalArn") or ""
        if not PRINCIPAL.fullmatch(principal):
            raise _Error("InvalidParameterException", f"The principalArn parameter format is not valid: {principal}", 400)
        if principal in entries:
            raise _Error("ResourceInUseException",
                         "The specified access entry resource is already in use on this cluster.", 409)
        kind = self._get_param("type") or "STANDARD"
        name = principal.rsplit("/", 1)[-1]
        account = principal.split(":")[4]
        default_user = (f"arn:aws:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}" if ":role/" in principal
                        else principal)   # what EKS maps the principal to when no username is given
        entry = {"groups": self._get_param("kubernetesGroups") or [], "tags": self._get_param("tags") or {},
                 "username": self._get_param("username") or default_user,
                 "type": kind, "created": unix_time(), "modified": unix_time(), "policies": [],
                 "arn": f"arn:aws:eks:{self.region}:{self.current_account}:access-entry/{cluster.name}/role/"
                        f"{self.current_account}/{name}/{abs(hash(principal)) % 10**8:08d}"}
        entries[principal] = entry
        return {"accessEntry": _describe(cluster, principal, entry)}

    def _associate(self, cluster, principal: str, entry: dict) -> dict:
        policy = self._get_param("policyArn") or ""
        if not policy.startswith(POLICY_PREFIX) or policy[len(POLICY_PREFIX):] not in POLICIES:
            raise _Error("InvalidParameterException", f"The policyArn {policy} is not an EKS access policy.", 400)
        scope = self._get_param("accessScope") or {}
        if scope.get("type") not in ("cluster", "namespace"):
            raise _Error("InvalidParameterException", "accessScope.type must be cluster or namespace", 400)
        if scope["type"] == "namespace" and not scope.get("namespaces"):
            raise _Error("InvalidParameterException", "accessScope.namespaces is required for type namespace", 400)
        scope = {"type": scope["type"], "namespaces": list(scope.get("namespaces") or [])}
        associated = next((a for a in entry["policies"] if a["policyArn"] == policy), None)
        if associated is None:
            associated = {"policyArn": policy, "associatedAt": unix_time()}
            entry["policies"].append(associated)
        associated.update(accessScope=scope, modifiedAt=unix_time())
        return {"clusterName": cluster.name, "principalArn": principal, "associatedAccessPolicy": associated}


def install() -> None:
    """Route the access-entry paths of moto's EKS to this stand-in (before the server serves)."""
    import moto.eks.urls as urls

    urls.url_paths.setdefault(URL_PATH, EKSAccessResponse().access_entries)
