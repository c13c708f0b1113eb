// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A recording's metrics and a merged recording's life: see
 * include/kafkalat/recording.h (writing: rec_write.c, reading: rec_read.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/kapi.h"
#include "kafkalat/recording.h"

const char *rec_metric_name(unsigned int m, char *buf, size_t len)
{
	if (m == REC_M_LATENCY)
		snprintf(buf, len, "latency");
	else if (m == REC_M_BROKER)
		snprintf(buf, len, "broker_latency");
	else if (m < REC_M_CAUSE)
		snprintf(buf, len, "phase.%s", attrib_phase_name(m - REC_M_PHASE));
	else if (m < REC_M_API)
		snprintf(buf, len, "cause.%s", attrib_cause_name(m - REC_M_CAUSE));
	else if (m < REC_METRICS)
		snprintf(buf, len, "api.%s", kapi_name((int16_t)(m - REC_M_API)));
	else
		return NULL;
	return buf;
}

int rec_metric_parse(const char *name)
{
	char buf[64];

	for (unsigned int m = 0; m < REC_METRICS; m++)
		if (!strcmp(name, rec_metric_name(m, buf, sizeof(buf))))
			return (int)m;
	return -1;
}

const char *rec_meta_get(const struct rec_file *f, const char *key)
{
	for (uint32_t i = 0; i < f->nmeta; i++)
		if (!strcmp(f->meta[i].key, key))
			return f->meta[i].value;
	return NULL;
}

static void free_interval(struct rec_interval *iv)
{
	for (unsigned int m = 0; m < REC_METRICS; m++)
		hist_sparse_free(iv->m[m]);
	for (unsigned int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < iv->ntop[k]; i++)
			free(iv->top[k][i].key);
	for (uint32_t i = 0; i < iv->nslow; i++) {
		free(iv->slow[i].partition);
		free(iv->slow[i].client);
		free(iv->slow[i].stack);
	}
	free(iv->slow);
	free(iv->commits);
}

static void free_file(struct rec_file *f)
{
	for (uint32_t i = 0; i < f->nmeta; i++) {
		free(f->meta[i].key);
		free(f->meta[i].value);
	}
	free(f->meta);
	free(f->path);
}

void rec_free(struct rec *r)
{
	for (uint32_t i = 0; i < r->niv; i++)
		free_interval(&r->iv[i]);
	free(r->iv);
	for (uint32_t i = 0; i < r->nfiles; i++)
		free_file(&r->files[i]);
	free(r->files);
	for (unsigned int m = 0; m < REC_METRICS; m++)
		free(r->m[m]);
	agg_free(&r->agg);
	bands_free(r->bands);
	for (uint32_t i = 0; i < r->nfolded; i++)
		free(r->folded[i].stack);
	free(r->folded);
	lives_free(&r->lives);
	memset(r, 0, sizeof(*r));
}

/* "9092,9093" into ports. */
static int parse_ports(const char *s, uint16_t *ports)
{
	int n = 0;

	while (s && *s && n < KLT_MAX_PORTS) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v > 65535)
			break;
		ports[n++] = (uint16_t)v;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

void rec_report_run(const struct rec *r, struct report_run *out)
{
	const struct rec_file *f = r->nfiles ? &r->files[0] : NULL;
	const char *v;

	memset(out, 0, sizeof(*out));
	if (f && (v = rec_meta_get(f, "broker.pid")))
		out->pid = atoi(v);
	if (f && (v = rec_meta_get(f, "broker.comm")))
		snprintf(out->comm, sizeof(out->comm), "%s", v);
	if (f)
		out->nports = parse_ports(rec_meta_get(f, "broker.ports"), out->ports);
	out->duration_s = r->duration_s;
	out->lost_events = r->lost.socket_lost;
	out->conn_table_full = r->lost.conn_table_full;
	out->resync_skipped = r->lost.resync_skipped;
	out->kernel = r->kernel;
	out->counts = &r->counts;
	out->tail = r->has_tail ? &r->tail : NULL;
	out->cost = r->cost;
	memcpy(out->loss.socket, r->counts.lost, sizeof(out->loss.socket));
	out->loss.touched = corr_touched(&r->counts, &out->loss.produce_touched);
	if (r->has_tail) {
		memcpy(out->loss.causes, r->tail.stats.lost, sizeof(out->loss.causes));
		out->loss.causes_touched = r->tail.stats.lost_touched;
	}
	report_loss_add(&out->loss, &r->cut_loss);
	out->gap_intervals = r->gap_intervals;
	out->interval_gap_ns = r->gap_ns;
	if (r->lives.n) {
		out->lives = &r->lives;
		out->lives_origin_ns = r->t_start_ns;
		out->lives_end_ns = r->t_end_ns;
	}
}
