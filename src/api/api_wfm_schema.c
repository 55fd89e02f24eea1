/*
 * api_wfm_schema.c: the OpenAPI description of the workforce endpoints
 * that read the event log and build schedules (api_wfm_data.c,
 * api_wfm_sched.c). schema_openapi() calls api_wfm_openapi() next to the
 * calculator's and simulator's entries, so the served document (and the
 * black-box tests that validate every response against it) covers them.
 * The schemas are written as JSON text: easier to read than json_pack
 * formats this size.
 */
#include "api/api_int.h"

#include <string.h>

static const char *const schemas_json =
	"{"
	"\"WfmNumOrNull\": {\"type\": [\"number\", \"null\"]},"
	"\"WfmSeries\": {\"type\": \"array\", \"items\": {\"type\": [\"number\", \"null\"]}},"
	"\"WfmMethodScore\": {\"type\": \"object\", \"required\": [\"method\", \"wape\", \"mase\", \"status\"],"
	"  \"properties\": {\"method\": {\"type\": \"string\", \"enum\": [\"seasonal_naive\", \"historical_average\", \"holt_winters\"]},"
	"  \"wape\": {\"type\": [\"number\", \"null\"]}, \"mase\": {\"type\": [\"number\", \"null\"]},"
	"  \"status\": {\"type\": \"string\", \"enum\": [\"ok\", \"not_enough_history\"]}}},"
	"\"WfmForecast\": {\"type\": \"object\","
	"  \"required\": [\"queue_id\", \"queue_name\", \"interval_seconds\", \"now\", \"history\", \"today\", \"forecast\", \"backtest\", \"contacts\"],"
	"  \"properties\": {"
	"   \"queue_id\": {\"type\": \"integer\"}, \"queue_name\": {\"type\": \"string\"},"
	"   \"interval_seconds\": {\"type\": \"integer\", \"const\": 900}, \"now\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"   \"history\": {\"type\": \"object\", \"required\": [\"start\", \"days\", \"arrivals\", \"handle_seconds\"],"
	"     \"properties\": {\"start\": {\"type\": \"string\", \"format\": \"date-time\"}, \"days\": {\"type\": \"integer\"},"
	"     \"arrivals\": {\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": 0}},"
	"     \"handle_seconds\": {\"$ref\": \"#/components/schemas/WfmSeries\"}}},"
	"   \"today\": {\"type\": \"object\", \"required\": [\"start\", \"elapsed_intervals\", \"arrivals\", \"handle_seconds\", \"forecast\", \"reforecast\", \"scale\"],"
	"     \"properties\": {\"start\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"     \"elapsed_intervals\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 96},"
	"     \"arrivals\": {\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": 0}},"
	"     \"handle_seconds\": {\"$ref\": \"#/components/schemas/WfmSeries\"},"
	"     \"forecast\": {\"$ref\": \"#/components/schemas/WfmSeries\"}, \"reforecast\": {\"$ref\": \"#/components/schemas/WfmSeries\"},"
	"     \"scale\": {\"type\": [\"number\", \"null\"]}}},"
	"   \"forecast\": {\"type\": \"object\", \"required\": [\"start\", \"horizon_days\", \"method\", \"arrivals\", \"handle_method\", \"handle_seconds\"],"
	"     \"properties\": {\"start\": {\"type\": \"string\", \"format\": \"date-time\"}, \"horizon_days\": {\"type\": \"integer\"},"
	"     \"method\": {\"type\": \"string\"}, \"handle_method\": {\"type\": \"string\"},"
	"     \"arrivals\": {\"$ref\": \"#/components/schemas/WfmSeries\"}, \"handle_seconds\": {\"$ref\": \"#/components/schemas/WfmSeries\"}}},"
	"   \"backtest\": {\"type\": \"object\", \"required\": [\"horizon_intervals\", \"origins\", \"step_intervals\", \"arrivals\", \"handle_seconds\"],"
	"     \"properties\": {\"horizon_intervals\": {\"type\": \"integer\"}, \"origins\": {\"type\": \"integer\"}, \"step_intervals\": {\"type\": \"integer\"},"
	"     \"arrivals\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/WfmMethodScore\"}},"
	"     \"handle_seconds\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/WfmMethodScore\"}}}},"
	"   \"contacts\": {\"type\": \"object\", \"required\": [\"arrivals\", \"handled\", \"mean_handle_seconds\", \"answered\", \"abandoned\", \"left\", \"patience_seconds\"],"
	"     \"properties\": {\"arrivals\": {\"type\": \"integer\"}, \"handled\": {\"type\": \"integer\"},"
	"     \"mean_handle_seconds\": {\"type\": [\"number\", \"null\"]}, \"answered\": {\"type\": \"integer\"},"
	"     \"abandoned\": {\"type\": \"integer\"}, \"left\": {\"type\": \"integer\"},"
	"     \"patience_seconds\": {\"type\": [\"number\", \"null\"]}}}}},"
	"\"WfmStaffing\": {\"type\": \"object\","
	"  \"required\": [\"model\", \"patience_seconds\", \"target_sl\", \"sl_seconds\", \"shrinkage\", \"interval_seconds\", \"calls\", \"aht_seconds\","
	"   \"agents\", \"scheduled\", \"service_level\", \"peak_agents\", \"peak_scheduled\", \"agent_hours\", \"scheduled_hours\", \"unreachable_intervals\"],"
	"  \"properties\": {\"model\": {\"type\": \"string\", \"enum\": [\"a\", \"c\"]}, \"patience_seconds\": {\"type\": [\"number\", \"null\"]},"
	"   \"target_sl\": {\"type\": \"number\"}, \"sl_seconds\": {\"type\": \"number\"}, \"shrinkage\": {\"type\": \"number\"},"
	"   \"interval_seconds\": {\"type\": \"integer\"},"
	"   \"calls\": {\"$ref\": \"#/components/schemas/WfmSeries\"}, \"aht_seconds\": {\"$ref\": \"#/components/schemas/WfmSeries\"},"
	"   \"agents\": {\"type\": \"array\", \"items\": {\"type\": [\"integer\", \"null\"]}},"
	"   \"scheduled\": {\"type\": \"array\", \"items\": {\"type\": [\"integer\", \"null\"]}},"
	"   \"service_level\": {\"$ref\": \"#/components/schemas/WfmSeries\"},"
	"   \"peak_agents\": {\"type\": \"integer\"}, \"peak_scheduled\": {\"type\": \"integer\"},"
	"   \"agent_hours\": {\"type\": \"number\"}, \"scheduled_hours\": {\"type\": \"number\"}, \"unreachable_intervals\": {\"type\": \"integer\"},"
	"   \"queue_id\": {\"type\": \"integer\"}, \"start\": {\"type\": \"string\", \"format\": \"date-time\"}, \"horizon_days\": {\"type\": \"integer\"},"
	"   \"forecast_method\": {\"type\": \"string\"}, \"handle_method\": {\"type\": \"string\"}}},"
	"\"WfmStaffingInput\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"calls\", \"aht_seconds\"],"
	"  \"properties\": {\"interval_seconds\": {\"type\": \"number\", \"default\": 900},"
	"   \"calls\": {\"type\": \"array\", \"items\": {\"type\": \"number\"}, \"minItems\": 1, \"maxItems\": 2976},"
	"   \"aht_seconds\": {\"oneOf\": [{\"type\": \"number\"}, {\"type\": \"array\", \"items\": {\"type\": \"number\"}}]},"
	"   \"model\": {\"type\": \"string\", \"enum\": [\"a\", \"c\"]}, \"patience_seconds\": {\"type\": \"number\"},"
	"   \"target_sl\": {\"type\": \"number\", \"default\": 0.8}, \"sl_seconds\": {\"type\": \"number\", \"default\": 20},"
	"   \"shrinkage\": {\"type\": \"number\", \"default\": 0}}},"
	"\"WfmScheduleInput\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"start_date\", \"templates\", \"agents\"],"
	"  \"properties\": {\"name\": {\"type\": \"string\"}, \"start_date\": {\"type\": \"string\", \"format\": \"date\"},"
	"   \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 14},"
	"   \"required\": {\"type\": \"array\", \"items\": {\"type\": \"number\"}, \"description\": \"Agents needed per 15-minute interval, 96 per day\"},"
	"   \"queue_id\": {\"type\": \"integer\", \"description\": \"Instead of required: staff this queue's forecast\"},"
	"   \"staffing\": {\"type\": \"object\"},"
	"   \"templates\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"required\": [\"start_earliest\", \"length_minutes\"],"
	"     \"properties\": {\"name\": {\"type\": \"string\"}, \"start_earliest\": {\"type\": \"string\"}, \"start_latest\": {\"type\": \"string\"},"
	"     \"start_step_minutes\": {\"type\": \"integer\"}, \"length_minutes\": {\"type\": \"integer\"},"
	"     \"breaks\": {\"type\": \"array\"}, \"weekdays\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
	"     \"skill_id\": {\"type\": \"integer\"}, \"cost_weight\": {\"type\": \"number\"}}}},"
	"   \"agents\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"required\": [\"agent_id\"],"
	"     \"properties\": {\"agent_id\": {\"type\": \"integer\"}, \"min_hours\": {\"type\": \"number\"}, \"max_hours\": {\"type\": \"number\"},"
	"     \"skills\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}, \"available\": {\"type\": [\"array\", \"null\"]}}}},"
	"   \"time_limit_seconds\": {\"type\": \"number\", \"default\": 10, \"maximum\": 30}, \"min_rest_hours\": {\"type\": \"number\", \"default\": 0},"
	"   \"save\": {\"type\": \"boolean\"}, \"publish\": {\"type\": \"boolean\"}}},"
	"\"WfmSchedule\": {\"type\": \"object\","
	"  \"required\": [\"id\", \"status\", \"published_at\", \"name\", \"start_date\", \"days\", \"interval_seconds\", \"method\", \"cbc_status\","
	"   \"objective\", \"bound\", \"gap\", \"required\", \"coverage\", \"under\", \"over\", \"short_intervals\", \"paid_hours\", \"unassigned\", \"agents\", \"shifts\"],"
	"  \"properties\": {\"id\": {\"type\": [\"integer\", \"null\"]}, \"status\": {\"type\": \"string\", \"enum\": [\"unsaved\", \"draft\", \"published\"]},"
	"   \"created_at\": {\"type\": [\"string\", \"null\"]}, \"updated_at\": {\"type\": [\"string\", \"null\"]}, \"published_at\": {\"type\": [\"string\", \"null\"]},"
	"   \"name\": {\"type\": \"string\"}, \"start_date\": {\"type\": \"string\", \"format\": \"date\"}, \"days\": {\"type\": \"integer\"},"
	"   \"interval_seconds\": {\"type\": \"integer\"}, \"source\": {\"type\": \"object\"},"
	"   \"method\": {\"type\": \"string\", \"enum\": [\"cbc_optimal\", \"cbc_feasible\", \"fallback\"]},"
	"   \"cbc_status\": {\"type\": \"string\", \"enum\": [\"ok\", \"missing\", \"time_limit\", \"failed\"]},"
	"   \"objective\": {\"type\": [\"number\", \"null\"]}, \"bound\": {\"type\": [\"number\", \"null\"]}, \"gap\": {\"type\": [\"number\", \"null\"]},"
	"   \"required\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}, \"coverage\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}},"
	"   \"under\": {\"type\": \"number\"}, \"over\": {\"type\": \"number\"}, \"short_intervals\": {\"type\": \"integer\"},"
	"   \"paid_hours\": {\"type\": \"number\"}, \"unassigned\": {\"type\": \"integer\"}, \"agents_below_min\": {\"type\": \"integer\"},"
	"   \"templates\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
	"   \"agents\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"required\": [\"agent_id\", \"hours\"]}},"
	"   \"shifts\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
	"     \"required\": [\"agent_id\", \"template\", \"start_interval\", \"length\", \"paid_hours\", \"start\", \"end\", \"breaks\"],"
	"     \"properties\": {\"agent_id\": {\"type\": [\"integer\", \"null\"]}, \"template\": {\"type\": \"string\"},"
	"     \"start_interval\": {\"type\": \"integer\"}, \"length\": {\"type\": \"integer\"}, \"paid_hours\": {\"type\": \"number\"},"
	"     \"start\": {\"type\": \"string\", \"format\": \"date-time\"}, \"end\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"     \"breaks\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"required\": [\"start_interval\", \"length\", \"start\", \"end\", \"paid\"]}}}}}}},"
	"\"WfmScheduleList\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"items\", \"next_after\"],"
	"  \"properties\": {\"next_after\": {\"type\": [\"integer\", \"null\"]}, \"items\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
	"   \"required\": [\"id\", \"name\", \"status\", \"start_date\", \"days\", \"created_at\", \"published_at\"],"
	"   \"properties\": {\"id\": {\"type\": \"integer\"}, \"name\": {\"type\": \"string\"}, \"status\": {\"type\": \"string\", \"enum\": [\"draft\", \"published\"]},"
	"   \"start_date\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}, \"created_at\": {\"type\": \"string\"},"
	"   \"published_at\": {\"type\": [\"string\", \"null\"]}}}}}},"
	"\"WfmAdherence\": {\"type\": \"object\", \"required\": [\"date\", \"interval_seconds\", \"now\", \"schedules\", \"agents\", \"percent\"],"
	"  \"properties\": {\"date\": {\"type\": \"string\", \"format\": \"date\"}, \"interval_seconds\": {\"type\": \"integer\"},"
	"   \"now\": {\"type\": \"string\", \"format\": \"date-time\"}, \"schedules\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}},"
	"   \"percent\": {\"type\": [\"number\", \"null\"]},"
	"   \"agents\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
	"    \"required\": [\"agent_id\", \"name\", \"schedule_id\", \"scheduled\", \"actual\", \"adherence\", \"scheduled_seconds\", \"adherent_seconds\", \"percent\", \"current\"],"
	"    \"properties\": {\"agent_id\": {\"type\": \"integer\"}, \"name\": {\"type\": \"string\"}, \"schedule_id\": {\"type\": \"integer\"},"
	"    \"scheduled\": {\"type\": \"array\", \"minItems\": 96, \"maxItems\": 96, \"items\": {\"type\": \"string\", \"enum\": [\"off\", \"work\", \"break\"]}},"
	"    \"actual\": {\"type\": \"array\", \"minItems\": 96, \"maxItems\": 96, \"items\": {\"enum\": [\"offline\", \"available\", \"away\", \"busy\", \"wrapup\", null]}},"
	"    \"adherence\": {\"type\": \"array\", \"minItems\": 96, \"maxItems\": 96, \"items\": {\"type\": [\"number\", \"null\"], \"minimum\": 0, \"maximum\": 1}},"
	"    \"scheduled_seconds\": {\"type\": \"number\"}, \"adherent_seconds\": {\"type\": \"number\"}, \"percent\": {\"type\": [\"number\", \"null\"]},"
	"    \"current\": {\"type\": \"object\", \"required\": [\"state\", \"scheduled\", \"in_adherence\"],"
	"     \"properties\": {\"state\": {\"type\": \"string\", \"enum\": [\"offline\", \"available\", \"away\", \"busy\", \"wrapup\"]},"
	"     \"scheduled\": {\"enum\": [\"off\", \"work\", \"break\", null]}, \"in_adherence\": {\"type\": [\"boolean\", \"null\"]}}}}}}}}"
	"}";

static json_t *problem(const char *desc)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", desc, "content",
			 "application/problem+json", "schema", "$ref", "#/components/schemas/Problem");
}

/* One operation: summary, optional body schema name, answer schema name,
 * success code, error codes, parameters (taken over). */
static json_t *op(const char *summary, const char *body, const char *answer, const char *code,
		  const char *const *errs, json_t *params)
{
	static const struct { const char *code, *desc; } all[] = {
		{"400", "Malformed JSON or invalid UTF-8"}, {"401", "Not authenticated"},
		{"403", "Not allowed, or CSRF token missing"}, {"404", "Not found"},
		{"405", "Method not allowed"}, {"413", "Body over 1 MiB"}, {"415", "Body is not JSON"},
		{"422", "Invalid field"}, {"429", "A schedule is being built; retry later"},
		{"500", "Internal error"}, {"503", "Shutting down or the store is not accepting work"},
	};
	char ref[96];
	json_t *o = json_pack("{s:s, s:[s]}", "summary", summary, "tags", "wfm");
	if (body) {
		snprintf(ref, sizeof(ref), "#/components/schemas/%s", body);
		json_object_set_new(o, "requestBody", json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1,
								 "content", "application/json", "schema",
								 "$ref", ref));
	}
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", answer);
	json_t *resp = json_object();
	json_object_set_new(resp, code, json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "The answer",
						  "content", "application/json", "schema", "$ref", ref));
	for (const char *const *c = errs; *c; c++)
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (!strcmp(all[i].code, *c))
				json_object_set_new(resp, *c, problem(all[i].desc));
	json_object_set_new(o, "responses", resp);
	if (params)
		json_object_set_new(o, "parameters", params);
	return o;
}

static json_t *qp(const char *name, const char *type, int required, const char *desc)
{
	return json_pack("{s:s, s:s, s:b, s:{s:s}, s:s}", "name", name, "in", "query", "required",
			 required, "schema", "type", type, "description", desc);
}

void api_wfm_openapi(json_t *paths, json_t *schemas)
{
	json_t *s = json_loads(schemas_json, 0, NULL);
	if (!s) {
		LOG_ERROR("api", "the wfm OpenAPI schemas do not parse");
		return;
	}
	json_object_update(schemas, s);
	json_decref(s);
	static const char *const err_get[] = {"401", "403", "404", "405", "422", "500", "503", NULL};
	static const char *const err_post[] = {"400", "401", "403", "405", "413", "415", "422", "500", "503",
					       NULL};
	static const char *const err_sched[] = {"400", "401", "403", "405", "413", "415", "422", "429", "500",
						"503", NULL};
	json_t *fparams = json_pack("[o,o,o]", qp("queue", "integer", 1, "Queue id"),
				    qp("days", "integer", 0, "Days of history before today, 7-91 (default 28)"),
				    qp("horizon_days", "integer", 0, "Days to forecast from today, 1-28 (default 7)"));
	json_object_set_new(paths, "/api/v1/wfm/forecast", json_pack("{s:o}", "get",
		op("A queue's arrivals and handle times per 15-minute interval from the event log, the "
		   "forecast by the method its backtest chose, and today's re-forecast",
		   NULL, "WfmForecast", "200", err_get, fparams)));
	json_t *sparams = json_pack("[o,o,o,o,o,o,o,o,o]", qp("queue", "integer", 1, "Queue id"),
				    qp("days", "integer", 0, "Days of history, 7-91 (default 28)"),
				    qp("horizon_days", "integer", 0, "Days from today, 1-28 (default 7)"),
				    qp("model", "string", 0, "a or c (default: a when the queue has abandonments)"),
				    qp("target_sl", "number", 0, "Fraction answered within sl_seconds (default: the queue's)"),
				    qp("sl_seconds", "number", 0, "Service-level threshold (default: the queue's)"),
				    qp("shrinkage", "number", 0, "Fraction of paid time off the phones (default 0)"),
				    qp("aht_seconds", "number", 0, "Handle time where the log has none (default 300)"),
				    qp("patience_seconds", "number", 0, "Mean patience instead of the estimate"));
	json_object_set_new(paths, "/api/v1/wfm/staffing", json_pack("{s:o, s:o}",
		"get", op("Agents needed per 15-minute interval of a queue's forecast (Erlang A or C, "
			  "with shrinkage)", NULL, "WfmStaffing", "200", err_get, sparams),
		"post", op("Agents needed per interval of a given forecast", "WfmStaffingInput", "WfmStaffing",
			   "200", err_post, NULL)));
	json_object_set_new(paths, "/api/v1/wfm/schedule", json_pack("{s:o}", "post",
		op("Build a shift schedule (CBC with a time limit, or the fallback); save or publish it",
		   "WfmScheduleInput", "WfmSchedule", "200", err_sched, NULL)));
	/* a saved schedule answers 201 */
	json_t *sched_post = json_object_get(json_object_get(json_object_get(paths, "/api/v1/wfm/schedule"),
							     "post"), "responses");
	json_object_set(sched_post, "201", json_object_get(sched_post, "200"));
	json_object_set_new(paths, "/api/v1/wfm/schedules", json_pack("{s:o}", "get",
		op("Saved schedules, newest first", NULL, "WfmScheduleList", "200", err_get,
		   json_pack("[o,o]", qp("limit", "integer", 0, "1-200, default 50"),
			     qp("after", "integer", 0, "Schedules with smaller ids than this")))));
	json_t *idp = json_pack("{s:s, s:s, s:b, s:{s:s}}", "name", "id", "in", "path", "required", 1,
				"schema", "type", "integer");
	json_object_set_new(paths, "/api/v1/wfm/schedules/{id}", json_pack("{s:[O], s:o}", "parameters", idp,
		"get", op("A saved schedule with every shift", NULL, "WfmSchedule", "200", err_get, NULL)));
	json_object_set_new(paths, "/api/v1/wfm/schedules/{id}/publish", json_pack("{s:[O], s:o}",
		"parameters", idp, "post",
		op("Publish a saved schedule: adherence is measured against it", NULL, "WfmSchedule", "200",
		   err_get, NULL)));
	json_decref(idp);
	json_object_set_new(paths, "/api/v1/wfm/adherence", json_pack("{s:o}", "get",
		op("Schedule adherence per agent and 15-minute interval for a day (default today, UTC)",
		   NULL, "WfmAdherence", "200", err_get,
		   json_pack("[o]", qp("date", "string", 0, "YYYY-MM-DD (UTC); default today")))));
}
