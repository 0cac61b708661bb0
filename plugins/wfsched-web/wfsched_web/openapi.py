"""The OpenAPI 3.1 document of the JSON API (served at ``/openapi.json``).

Written by hand rather than generated: the API is a dozen routes, and a hand-kept document
says exactly what the contract is, including the error answers.
"""

from __future__ import annotations

from typing import Any

from wfsched_web import __version__
from wfsched_web.inputs import (
    MAX_COUNT,
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_PAGE_OFFSET,
    MAX_SEARCH_TEXT,
    STATUSES,
)

_TIME = {"type": ["string", "null"], "format": "date-time"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


_ID = {"name": "id", "in": "path", "required": True,
       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


def _acting(answer: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    """The responses of an endpoint that acts on a workflow: ``answer`` (200/201) and the
    refusals every one of them shares."""
    return {**answer, "401": _error("no token sent"),
            "403": _error("wrong token, or acting is disabled"),
            "404": _error("no such workflow"), **more}

_EXECUTION_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "workflow": {"type": "string"},
    "status": {"type": "string", "enum": list(STATUSES)},
    "priority": {"type": "integer"},
    "attempt": {"type": "integer"},
    "params": {"type": "object"},
    "created_at": _TIME,
    "started_at": _TIME,
    "finished_at": _TIME,
    "pid": {"type": ["integer", "null"]},
    "host": {"type": ["string", "null"]},
    "spawner": {"type": ["string", "null"]},
    "exit_code": {"type": ["integer", "null"]},
    "error": {"type": ["string", "null"]},
    "duration": {"type": ["number", "null"], "description": "seconds, so far while running"},
    "trigger": {"type": "string"},
    "wait_reason": {"type": ["string", "null"]},
    "cancel_requested": {"type": "boolean"},
    "error_line": {"type": ["string", "null"], "description": "the error's first line"},
}
_CONTRACT = ["id", "workflow", "status", "priority", "attempt", "params", "created_at",
             "started_at", "finished_at", "pid", "host", "spawner", "exit_code", "error"]


def openapi_document() -> dict[str, Any]:
    """The whole document, as a JSON-ready dict."""
    auth: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wfsched web API",
            "version": __version__,
            "description": "Watch, trigger and cancel wfsched executions. Reading is open "
                           "when the dashboard listens on loopback; trigger and cancel need "
                           "the token (Authorization: Bearer ...).",
        },
        "paths": {
            "/api/workflows": {"get": {
                "operationId": "listWorkflows",
                "summary": "Every installed workflow, with its schedule and last run",
                "responses": {
                    "200": {"description": "the workflows", "content": {"application/json": {
                        "schema": {"type": "array",
                                   "items": {"$ref": "#/components/schemas/Workflow"}}}}},
                    "401": _error("reading needs the token on this address"),
                },
            }},
            "/api/executions": {"get": {
                "operationId": "listExecutions",
                "summary": "Executions, newest first",
                "parameters": [
                    {"name": "status", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": list(STATUSES)}},
                    {"name": "workflow", "in": "query", "required": False,
                     "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                "default": 50}},
                    *_SEARCH_PARAMETERS,
                ],
                "responses": {
                    "200": {"description": "the executions", "content": {"application/json": {
                        "schema": {"type": "array",
                                   "items": {"$ref": "#/components/schemas/Execution"}}}},
                            "headers": {"X-Total-Count": {
                                "description": "how many executions match in all",
                                "schema": {"type": "integer"}}}},
                    "401": _error("reading needs the token on this address"),
                    "422": _error("a malformed filter"),
                },
            }},
            "/api/executions/{id}": {"get": {
                "operationId": "getExecution",
                "summary": "One execution, with its steps and error detail",
                "parameters": [_ID],
                "responses": {
                    "200": _json("#/components/schemas/ExecutionDetail", "the execution"),
                    "401": _error("reading needs the token on this address"),
                    "404": _error("no execution with this id"),
                },
            }},
            "/api/executions/{id}/log": {"get": {
                "operationId": "getExecutionLog",
                "summary": "The execution's log: its tail, or what follows an offset",
                "parameters": [_ID, {
                    "name": "offset", "in": "query", "required": False,
                    "description": "byte offset to read from (the previous next_offset); "
                                   "absent: the last 64 KiB",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}}],
                "responses": {
                    "200": _json("#/components/schemas/LogChunk", "a piece of the log"),
                    "401": _error("reading needs the token on this address"),
                    "404": _error("no execution with this id"),
                    "422": _error("a malformed offset"),
                },
            }},
            "/api/workflows/{name}/trigger": {"post": {
                "operationId": "triggerWorkflow",
                "summary": "Queue pending executions of a workflow",
                "security": auth,
                "parameters": [_NAME],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TriggerRequest"}}}},
                "responses": _acting(
                    {"201": _json("#/components/schemas/TriggerResponse", "the new ids")},
                    **{"422": _error("a malformed body")}),
            }},
            "/api/workflows/{name}/pause": {"post": {
                "operationId": "pauseWorkflow",
                "summary": "Pause a workflow on every scheduler (as wfsched pause)",
                "security": auth,
                "parameters": [_NAME],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "reason": {"type": "string", "maxLength": 500}}}}}},
                "responses": _acting(
                    {"200": {"description": "the workflow's pause (the first one stands)"}},
                    **{"422": _error("a malformed body")}),
            }},
            "/api/workflows/{name}/resume": {"post": {
                "operationId": "resumeWorkflow",
                "summary": "Resume a paused workflow (as wfsched resume)",
                "security": auth,
                "parameters": [_NAME],
                "responses": _acting({"200": {"description": "whether it was paused"}}),
            }},
            "/api/executions/{id}/cancel": {"post": {
                "operationId": "cancelExecution",
                "summary": "Cancel a pending execution or stop a running one",
                "security": auth,
                "parameters": [_ID],
                "responses": {
                    "200": _json("#/components/schemas/Execution", "the execution, final"),
                    "401": _error("no token sent"),
                    "403": _error("wrong token, or acting is disabled"),
                    "404": _error("no execution with this id"),
                    "409": _error("the execution has already ended"),
                },
            }},
            **_triage_paths(auth),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


_SEARCH_PARAMETERS = [
    {"name": "q", "in": "query", "required": False,
     "description": "text the parameters contain (case-insensitive; not searched in "
                    "workflows that declare secret_params)",
     "schema": {"type": "string", "maxLength": MAX_SEARCH_TEXT}},
    {"name": "since", "in": "query", "required": False,
     "description": "created at or after (UTC): YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]",
     "schema": {"type": "string"}},
    {"name": "until", "in": "query", "required": False,
     "description": "created before (UTC); a bare date includes that day",
     "schema": {"type": "string"}},
    {"name": "offset", "in": "query", "required": False,
     "description": "how many matching executions to skip (paging)",
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE_OFFSET, "default": 0}},
]


def _triage_paths(auth: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Re-run, the runs × steps grid and the schedulers (issue 19)."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/api/executions/{id}/rerun": {"post": {
            "operationId": "rerunExecution",
            "summary": "Queue a finished execution again with its parameters (a failed or "
                       "cancelled one as its next attempt)",
            "security": auth,
            "parameters": [_ID],
            "responses": {
                "201": _json("#/components/schemas/Rerun", "the new execution"),
                "401": _error("no token sent"),
                "403": _error("wrong token, or acting is disabled"),
                "404": _error("no execution with this id, or its workflow is gone"),
                "409": _error("the execution has not finished"),
            },
        }},
        "/api/workflows/{name}/grid": {"get": {
            "operationId": "workflowGrid",
            "summary": "The workflow's recent runs × its steps",
            "parameters": [name, {"name": "limit", "in": "query", "required": False,
                                  "schema": {"type": "integer", "minimum": 1,
                                             "maximum": 100, "default": 25}}],
            "responses": {
                "200": _json("#/components/schemas/Grid", "runs, oldest first"),
                "401": _error("reading needs the token on this address"),
                "404": _error("no such workflow"),
                "422": _error("a malformed limit"),
            },
        }},
        "/api/schedulers": {"get": {
            "operationId": "listSchedulers",
            "summary": "Schedulers that have not signed off: live or dead by heartbeat",
            "responses": {
                "200": {"description": "the schedulers", "content": {"application/json": {
                    "schema": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Scheduler"}}}}},
                "401": _error("reading needs the token on this address"),
            },
        }},
    }


def _triage_schemas() -> dict[str, Any]:
    return {
        "Rerun": {"type": "object", "required": ["id", "source", "attempt"], "properties": {
            "id": {"type": "integer"}, "source": {"type": "integer"},
            "attempt": {"type": "integer"}, "retry_of": {"type": ["integer", "null"]}}},
        "Grid": {"type": "object", "required": ["workflow", "steps", "runs"], "properties": {
            "workflow": {"type": "string"}, "total": {"type": "integer"},
            "steps": {"type": "array", "items": {"type": "string"}},
            "runs": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "status": {"type": "string"},
                "attempt": {"type": "integer"}, "created_at": _TIME,
                "duration": {"type": ["number", "null"]},
                "error": {"type": ["string", "null"]},
                "steps": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
        "Scheduler": {"type": "object", "required": ["id", "state"], "properties": {
            "id": {"type": "string"}, "state": {"type": "string", "enum": ["live", "dead"]},
            "host": {"type": "string"}, "pid": {"type": "integer"}, "started_at": _TIME,
            "heartbeat_at": _TIME, "heartbeat_age": {"type": "number"},
            "version": {"type": "string"}, "stopped_at": _TIME,
            "max_concurrent": {"type": ["integer", "null"]},
            "slots": {"type": ["integer", "null"]}, "running": {"type": "integer"}}},
    }


def _schemas() -> dict[str, Any]:
    step = {"type": "object", "properties": {
        "position": {"type": "integer"}, "name": {"type": "string"},
        "status": {"type": "string"}, "started_at": _TIME, "finished_at": _TIME,
        "duration": {"type": ["number", "null"]}, "error": {"type": ["string", "null"]},
        "result": {}}}
    detail_properties = dict(_EXECUTION_PROPERTIES)
    detail_properties.update({
        "retry_of": {"type": ["integer", "null"]},
        "triggered_by": {"type": ["integer", "null"]}, "scheduled_for": _TIME,
        "queue": {"type": ["string", "null"]}, "not_before": _TIME,
        "claimed_by": {"type": ["string", "null"]}, "heartbeat_at": _TIME,
        "concurrency_key": {"type": ["string", "null"],
                            "description": "the workflow's concurrency key for this run"},
        "error_detail": {"type": ["string", "null"], "description": "the traceback"},
        "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
    })
    return {
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string"}}},
        "Execution": {"type": "object", "required": _CONTRACT,
                      "properties": _EXECUTION_PROPERTIES},
        "ExecutionDetail": {"type": "object", "required": [*_CONTRACT, "steps"],
                            "properties": detail_properties},
        "Step": step,
        "Workflow": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "description": {"type": ["string", "null"]},
            "schedule": {"type": ["string", "null"]}, "schedule_text": {"type": "string"},
            "next_run": _TIME, "last_executed": _TIME,
            "last_status": {"type": ["string", "null"]},
            "broken": {"type": ["string", "null"]}}},
        "TriggerRequest": {"type": "object", "additionalProperties": False, "properties": {
            "count": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 1},
            "priority": {"type": ["integer", "null"], "minimum": -(2**31),
                         "maximum": 2**31 - 1},
            "params": {"type": "object"}}},
        "TriggerResponse": {"type": "object", "required": ["ids"], "properties": {
            "ids": {"type": "array", "items": {"type": "integer"}}}},
        **_triage_schemas(),
        "LogChunk": {"type": "object", "properties": {
            "execution_id": {"type": "integer"}, "status": {"type": "string"},
            "offset": {"type": "integer"}, "next_offset": {"type": "integer"},
            "size": {"type": "integer"}, "text": {"type": "string"}}},
    }
