"""The sandbox's stand-in for CodePipeline GetPipelineState, which moto does not answer.

It joins moto's own ``CodePipelineResponse`` (``emulated.install()`` adds it), so it reads
the pipelines moto holds. moto runs no actions: an execution it starts has succeeded at
once. The state reported is what AWS shows for such a pipeline: every declared stage
with its actions, and, once the pipeline has run, the newest execution on each stage.
"""

from __future__ import annotations

import json


class CodePipelineEmulatedResponses:
    """Operations moto's CodePipelineResponse lacks; each becomes a method of it."""

    def get_pipeline_state(self) -> str:
        name = self._get_param("name")
        backend = self.codepipeline_backend
        pipeline, metadata = backend.get_pipeline(name)   # PipelineNotFoundException, as on AWS
        newest = next(reversed(backend.pipelines[name].executions.values()), None)
        stages = []
        for stage in pipeline["stages"]:
            state = {"stageName": stage["name"], "inboundTransitionState": {"enabled": True},
                     "actionStates": [{"actionName": action["name"]} for action in stage["actions"]]}
            if newest is not None:
                state["latestExecution"] = {"pipelineExecutionId": newest.pipeline_execution_id,
                                            "status": newest.status}
            stages.append(state)
        return json.dumps({"pipelineName": name, "pipelineVersion": pipeline.get("version", 1),
                           "stageStates": stages, "created": metadata["created"], "updated": metadata["updated"]})


OPERATIONS = ("get_pipeline_state",)
