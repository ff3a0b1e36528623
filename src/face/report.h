/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report: text and JSON renderings of plans, jobs, results, replicas and
 * chains — the stable output of the command line (doc/json.md). */
#ifndef DROVER_REPORT_H
#define DROVER_REPORT_H

#include <json-c/json.h>

#include "chain/chain.h"
#include "ops/health.h"
#include "ops/job.h"
#include "ops/plan.h"
#include "record/replica.h"
#include "base/result.h"
#include "ops/summary.h"

json_object *report_plan_json(const Plan *p);
json_object *report_job_json(const JobInfo *j);
/* {result, result_name, result_symbol, message, summary, cause, next_step, retry_safe} */
json_object *report_result_json(const ResultInfo *info, const char *message);
json_object *report_summary_json(const Summary *s);
json_object *report_chain_json(const Chain *c);
json_object *report_points_json(const Replica *r);
json_object *report_health_json(const HealthReport *h);

/* The decoded result as indented lines ("Result: 32775 Invalid state ..."). */
char *report_result_text(const ResultInfo *info);
/* Decodes the job's outcome for its VM and host. */
void report_decode_job(const JobInfo *j, const char *op, ResultInfo *info);
/* The same; console: next steps name the console's keys. */
void report_decode_job_for(const JobInfo *j, const char *op, int console, ResultInfo *info);
/* The job type as people read it: "Test failover" (the name plans and
 * dialogs use), not the CIM "Initiate Test Replica". */
const char *report_job_title(int type);

/* Prints a JSON value to stdout, pretty, with a final newline. */
void report_print_json(json_object *o);
/* The text of o as an element of an array report_print_json prints (so
 * that elements can be made in parallel and printed in another order);
 * takes o over. */
char *report_element_text(json_object *o);
/* Prints elements made by report_element_text as report_print_json
 * prints the array of them. */
void report_print_json_elements(char *const *v, size_t n);

#endif
