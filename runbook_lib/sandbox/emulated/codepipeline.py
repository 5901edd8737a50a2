"""The sandbox's CodePipeline operations beyond moto's: GetPipelineState, ListActionExecutions, and real runs.

They join moto's own ``CodePipelineResponse`` (``emulated.install()`` adds them), so they
read the pipelines moto holds. StartPipelineExecution replaces moto's (whose executions
"succeed" at once without running anything): the execution runs for real
(``codepipeline_runs.py``). The state reported is what AWS shows: every declared stage
with its actions, and the newest execution's status on each stage and action.
"""

from __future__ import annotations

import json


class CodePipelineEmulatedResponses:
    """Operations moto's CodePipelineResponse lacks; each becomes a method of it."""

    def get_pipeline_state(self) -> str:
        name = self._get_param("name")
        backend = self.codepipeline_backend
        pipeline, metadata = backend.get_pipeline(name)   # PipelineNotFoundException, as on AWS
        from . import codepipeline_runs

        newest = next(reversed(backend.pipelines[name].executions.values()), None)
        run = codepipeline_runs.run_of(newest.pipeline_execution_id) if newest is not None else None
        stages = []
        for stage in pipeline["stages"]:
            actions = []
            for action in stage["actions"]:
                state = {"actionName": action["name"]}
                ran = [a for a in (run.actions if run else []) if a["stageName"] == stage["name"]
                       and a["actionName"] == action["name"]]
                if ran:
                    result = ran[-1]["output"]["executionResult"]
                    state["latestExecution"] = {"status": ran[-1]["status"],
                                                "summary": result.get("externalExecutionSummary", ""),
                                                "externalExecutionId": result.get("externalExecutionId", ""),
                                                "lastStatusChange": ran[-1]["lastUpdateTime"].timestamp()}
                actions.append(state)
            state = {"stageName": stage["name"], "inboundTransitionState": {"enabled": True}, "actionStates": actions}
            if newest is not None and (run is None or stage["name"] in run.stages):
                status = run.stages[stage["name"]]["status"] if run else newest.status
                state["latestExecution"] = {"pipelineExecutionId": newest.pipeline_execution_id, "status": status}
            stages.append(state)
        return json.dumps({"pipelineName": name, "pipelineVersion": pipeline.get("version", 1),
                           "stageStates": stages, "created": metadata["created"], "updated": metadata["updated"]})


    def start_pipeline_execution(self) -> str:
        from . import codepipeline_runs

        execution_id = codepipeline_runs.start(self.codepipeline_backend, self._get_param("name"))
        return json.dumps({"pipelineExecutionId": execution_id})

    def list_action_executions(self) -> str:
        from . import codepipeline_runs

        name = self._get_param("pipelineName")
        backend = self.codepipeline_backend
        backend.get_pipeline(name)   # PipelineNotFoundException, as on AWS
        wanted = (self._get_param("filter") or {}).get("pipelineExecutionId")
        details = []
        for execution_id in reversed(list(backend.pipelines[name].executions)):
            run = codepipeline_runs.run_of(execution_id)
            if run is None or (wanted and execution_id != wanted):
                continue
            for action in reversed(run.actions):
                details.append({**action, "startTime": action["startTime"].timestamp(),
                                "lastUpdateTime": action["lastUpdateTime"].timestamp()})
        return json.dumps({"actionExecutionDetails": details})


OPERATIONS = ("get_pipeline_state",)
RUN_OPERATIONS = ("start_pipeline_execution", "list_action_executions")
