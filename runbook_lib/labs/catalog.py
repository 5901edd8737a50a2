"""The training labs, as data: one fault each, the symptom a colleague reports, how it is found and fixed.

A lab names its injector (``injectors.py``) and the steps that put the applied state
back (``restore.py``); everything else here is text for the trainee and the grader.
Texts may use ``{app}``, ``{source}``, ``{manifests}``, ``{stage}``, ``{cluster}``,
``{account}``, ``{root}`` and the flags (``{flags}``), filled in from the parameters
(see ``Lab.text``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .context import LabError

# The guide's sections (shared/guide.md), which every lab maps to.
COMMON, CI, CD = "Common Resources", "Continuous Integration", "Continuous Deployment"
SECTIONS = (COMMON, CI, CD)


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    section: str                 # the guide section it teaches
    symptom: str                 # what a colleague reports: never the cause
    fault: str                   # what the injector did, shown once the lab is done
    reveals: tuple[str, ...]     # check ids that FAIL while the fault is there (and only those)
    found_with: str              # the suite's command that shows it
    fixes: tuple[str, ...]       # the runbook's own commands that repair it
    hints: tuple[str, ...]       # one more each time the trainee asks
    injector: str                # a key of injectors.INJECTORS
    restore: tuple[str, ...]     # keys of restore.STEPS that undo the fault (reset; the documented fix)
    may_replace: tuple[str, ...] = ()   # identity kinds a correct fix creates anew (see identities.py)
    wrong_fix: str = ""          # a tempting destructive "fix" (a key of injectors.WRONG_FIXES) the grader refuses

    def text(self, template: str, names: dict[str, str]) -> str:
        return template.format_map(names)


LABS: tuple[Lab, ...] = (
    Lab(
        name="connection-pending",
        title="The handshake nobody finished",
        section=COMMON,
        symptom="Merges to {source} stopped starting any pipeline, staging and production alike. "
                "Pull request builds still run.",
        fault="The CodeStar connection was PENDING again: the console handshake had not been completed.",
        reveals=("common.connection.status",),
        found_with="runbook check",
        fixes=("runbook sandbox complete-handshake --org {org}",),
        hints=("Pipelines start from the Source stage. What do the pipelines use to hear about merges?",
               "Run `runbook check {flags_check}` and read the common.* rows.",
               "A connection is created PENDING; a person completes it in the console. In the sandbox: "
               "`runbook sandbox complete-handshake --org {org}`."),
        injector="connection_pending",
        restore=("handshake",),
    ),
    Lab(
        name="token-parameter-missing",
        title="The token that went away",
        section=COMMON,
        symptom="A colleague's `runbook apply` stops in the very first root with an error about a parameter; "
                "nobody changed the parameters files.",
        fault="The SSM parameter holding the GitHub token was deleted.",
        reveals=("pre.github-token-parameter",),
        found_with="runbook check --phase preflight",
        fixes=("runbook sandbox start --org {org}  (seeds what the guide assumes, the token among it)",
               "on AWS: aws ssm put-parameter --type SecureString (the check's remedy)"),
        hints=("The first root reads something that must exist before any apply. Which checks look at that?",
               "Run `runbook check {flags_check} --phase preflight`.",
               "The token parameter is an input the guide assumes; in the sandbox `runbook sandbox start --org {org}` "
               "seeds it again."),
        injector="token_parameter_missing",
        restore=("seed",),
    ),
    Lab(
        name="source-credential-deleted",
        title="Builds that cannot reach GitHub",
        section=COMMON,
        symptom="Builds of new pull requests in {source} fail straight away while downloading the source.",
        fault="The CodeBuild GitHub source credential was deleted.",
        reveals=("common.source-credential",),
        found_with="runbook check",
        fixes=("runbook apply {flags}",),
        hints=("CodeBuild clones from GitHub with something the common root set up. Is it still there?",
               "Run `runbook check {flags_check}`: look at common.source-credential.",
               "The codebuild-credential module creates it from the token parameter: apply again, "
               "`runbook apply {flags}`; the plan shows what comes back."),
        injector="source_credential_deleted",
        restore=("apply:cicd-common",),
        may_replace=("codebuild source credential",),
    ),
    Lab(
        name="webhook-deleted",
        title="Pull requests that start nothing",
        section=CI,
        symptom="Pull requests in {source} no longer start image builds; the manifests builds still run.",
        fault="The image project's webhook was deleted.",
        reveals=("ci.project.image.webhook",),
        found_with="runbook check",
        fixes=("runbook apply {flags}",),
        hints=("Something tells CodeBuild that a pull request was opened. Does each project still have it?",
               "Run `runbook check {flags_check}` and read the ci.project.* rows.",
               "The ecr-project module creates the webhook; `runbook apply {flags}` puts it back (see the plan)."),
        injector="webhook_deleted",
        restore=("apply:ci",),
    ),
    Lab(
        name="trust-wrong-account",
        title="A deploy role that trusts a stranger",
        section=CD,
        symptom="Deploys of {app} to {cluster} fail: the deploy step cannot assume its role in the {account} "
                "account. The other clusters deploy fine.",
        fault="The deploy role's trust policy named another account (999999999999) instead of Operations.",
        reveals=("common.deploy-role.{account}.{cluster}",),
        found_with="runbook check",
        fixes=("runbook apply {flags}",),
        hints=("Assuming a role needs two sides to agree: who asks, and whom the role trusts.",
               "Run `runbook check {flags_check}` and read the common.deploy-role.* rows.",
               "The deploy roles live in the common root (one per cluster): `runbook apply {flags}` restores the "
               "trust in place. Deleting the role is not a repair: pipelines and tags refer to it."),
        injector="trust_wrong_account",
        restore=("apply:cicd-common",),
        wrong_fix="delete_deploy_role",
    ),
    Lab(
        name="trust-without-condition",
        title="A deploy role anyone may assume",
        section=CD,
        symptom="The security review says any role in the Operations account could deploy to {cluster}.",
        fault="The deploy role's trust lost its aws:PrincipalTag/cluster.<cluster>.deploy condition.",
        reveals=("common.deploy-role.{account}.{cluster}",),
        found_with="runbook check",
        fixes=("runbook apply {flags}",),
        hints=("Who may assume the deploy role is written in its trust policy. What narrows it down?",
               "Run `runbook check {flags_check}` and read the common.deploy-role.* rows.",
               "The deploy-role module trusts Operations only on a principal-tag condition; `runbook apply {flags}` "
               "restores it."),
        injector="trust_without_condition",
        restore=("apply:cicd-common",),
        wrong_fix="delete_deploy_role",
    ),
    Lab(
        name="ecr-pull-missing",
        title="Images the cluster cannot pull",
        section=CI,
        symptom="Pods of {app} on {cluster} are stuck in ImagePullBackOff; the other clusters run the same image.",
        fault="The ECR repository policy no longer let the {account} account pull.",
        reveals=("ci.ecr.workload-pull",),
        found_with="runbook check",
        fixes=("runbook apply {flags}",),
        hints=("The image lives in the Operations account and runs in a Workload account. Who may read it?",
               "Run `runbook check {flags_check}` and read the ci.ecr.* rows.",
               "The ecr-repository module grants pull to every workload account: `runbook apply {flags}`."),
        injector="ecr_pull_missing",
        restore=("apply:ci",),
    ),
    Lab(
        name="pipeline-wrong-branch",
        title="A pipeline that watches the wrong branch",
        section=CD,
        symptom="Merges to {source} reach production as usual, but {stage} has not deployed anything since Tuesday.",
        fault="The {stage} pipeline's source action watched another branch.",
        reveals=("cd.pipeline.{stage}.source.{source_name}",),
        found_with="runbook check",
        fixes=("runbook apply {flags}",),
        hints=("A pipeline starts on a change to one repository and branch. Which?",
               "Run `runbook check {flags_check}` and read the cd.pipeline.{stage}.* rows.",
               "The branch comes from the app parameters; `runbook apply {flags}` sets it back."),
        injector="pipeline_wrong_branch",
        restore=("apply:cd",),
    ),
    Lab(
        name="cluster-access-removed",
        title="A deploy Kubernetes turns away",
        section=CD,
        symptom="Merges to {source} run the {stage} pipeline through Source and Build; then its Deploy action "
                "for {cluster} fails with `error: You must be logged in to the server (Unauthorized)`.",
        fault="The deploy role's EKS access entry on {cluster} was deleted: the role could still assume and "
              "describe the cluster, but Kubernetes no longer knew it.",
        reveals=("common.cluster-access.{account}.{cluster}",),
        found_with="runbook pipeline merge (the deploy build's log and its cause), then runbook check",
        fixes=("runbook apply {flags}",),
        hints=("The deploy build assumed the deploy role and reached the cluster's API, so its trust is fine. "
               "Who tells Kubernetes what that role may do?",
               "Run `runbook check {flags_check}` and read the common.cluster-access.* rows.",
               "For a cluster whose deploy_access is access_entry, the common root creates the role's access "
               "entry and its policy: `runbook apply {flags}` puts it back."),
        injector="cluster_access_removed",
        restore=("apply:cicd-common",),
    ),
    Lab(
        name="state-lock",
        title="A lock nobody holds",
        section=CI,
        symptom="Every `runbook apply` of {app} stops at the CI root since the build runner was rebooted "
                "last night, for everyone, with the same message.",
        fault="A state lock of a killed run was left on the CI root's state.",
        reveals=(),
        found_with="runbook apply (it stops at the lock and prints the command that releases it)",
        fixes=("runbook unlock {root} LOCK_ID {flags}",),
        hints=("The checks all pass: AWS is fine. What does `runbook apply {flags}` itself say?",
               "Terraform keeps a lock beside each root's state while it works; a killed run cannot release it.",
               "Make sure no run is going on, then `runbook unlock {root} LOCK_ID {flags}` with the ID "
               "the error printed."),
        injector="state_lock",
        restore=("unlock",),
    ),
    Lab(
        name="outside-state",
        title="After the crash",
        section=CI,
        symptom="A laptop died in the middle of an apply of {app}'s CI yesterday. The console looks fine, "
                "but the next apply does not agree.",
        fault="The image project's IAM role existed in AWS but not in the CI root's Terraform state, as an apply "
              "killed right after creating it (before its policies) leaves it.",
        reveals=(),
        found_with="runbook apply (the plan wants to create a role that AWS already has)",
        fixes=("runbook apply {flags}  (the runbook imports what an interrupted apply left outside the state)",),
        hints=("The checks all pass: AWS is fine. Does Terraform know about everything in AWS?",
               "Run `runbook apply {flags}` and read the plan and what follows the \"already exists\" error.",
               "The runbook writes import blocks for what already exists and plans again: approve that plan. "
               "Deleting the role so Terraform can create it again is not a repair."),
        injector="outside_state",
        restore=("apply:ci",),
        wrong_fix="delete_image_role",
    ),
    Lab(
        name="hand-edited",
        title="A quick fix in the rendered files",
        section=CI,
        symptom="Someone made \"a small change\" in the infra folder of {app} on Friday; since then "
                "`runbook apply` refuses to start.",
        fault="A rendered file ({edited}) was edited by hand.",
        reveals=(),
        found_with="runbook validate (the rendered files differ from the parameters) or runbook render",
        fixes=("runbook render {flags}  (shows the diff and refuses)",
               "runbook render {flags} --force  (once the change is in the parameters, or not wanted)"),
        hints=("The checks all pass: AWS is fine. What does `runbook validate {flags}` say?",
               "`runbook render {flags}` prints the diff of what was changed by hand.",
               "A wanted change goes into the parameters; then `runbook render {flags} --force` overwrites "
               "the hand edit."),
        injector="hand_edited",
        restore=("render",),
    ),
)


class UnknownLab(LabError):
    pass


def find(name: str) -> Lab:
    for lab in LABS:
        if lab.name == name:
            return lab
    raise UnknownLab(f"lab {name!r} is not a lab of this suite (labs: {', '.join(lab.name for lab in LABS)}); "
                     "nothing was changed.")
