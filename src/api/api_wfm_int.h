/*
 * api_wfm_int.h (private to the api_wfm*.c files): what the workforce
 * endpoints share. The forecast, staffing and schedule endpoints all start
 * from one queue's history read out of the event log (a store read job,
 * api_wfm_read_queue), forecast it on the worker pool
 * (api_wfm_forecast), and may staff the forecast (api_wfm_staff).
 * Definitions of every figure: docs/WFM.md, "Forecasts, staffing and
 * adherence from the event log".
 *
 * Times: 15-minute intervals aligned to UTC midnight; "today" is the UTC
 * day of the request.
 */
#ifndef HL_API_WFM_INT_H
#define HL_API_WFM_INT_H

#include "api/api_int.h"
#include "wfm/wfm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define WFM_IV_S 900
#define WFM_IV_MS 900000LL
#define WFM_DAY_IV 96
#define WFM_DAY_MS 86400000LL
#define WFM_MAX_HISTORY_DAYS 91 /* 13 weeks: bounds the event read */
#define WFM_MAX_HORIZON_DAYS 28

/* A field error: the 422 detail and the dotted path of the field. */
struct wfm_perr {
	char detail[240];
	char field[128];
};

/* Set e and return -EINVAL. */
int api_wfm_bad(struct wfm_perr *e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A JSON number or null for non-finite x (new reference). */
json_t *api_wfm_num(double x);

/* "YYYY-MM-DD" -> epoch milliseconds of its UTC midnight. 0 or -EINVAL. */
int api_wfm_parse_date(const char *s, int64_t *day_ms);
/* epoch ms of a UTC midnight -> "YYYY-MM-DD" into buf (>= 11 bytes). */
void api_wfm_format_date(int64_t day_ms, char *buf, size_t size);
/* Day of the week of a UTC midnight, Monday = 0. */
int api_wfm_weekday(int64_t day_ms);
/* "HH:MM" (00:00 to 24:00) -> minutes. 0 or -EINVAL. */
int api_wfm_parse_hhmm(const char *s, unsigned *minutes);

/* Reject members of object o not in keys (NULL-terminated); path prefixes
 * the field name ("" at the top). 0 or -EINVAL with e set. */
int api_wfm_known_keys(json_t *o, const char *const *keys, const char *path, struct wfm_perr *e);
/* A number member: absent -> def (or an error when required); must lie in
 * [lo, hi]. 0 or -EINVAL with e set. */
int api_wfm_get_num(json_t *o, const char *k, const char *path, bool required, double def,
		    double lo, double hi, double *out, struct wfm_perr *e);

/* One queue's history from the event log, filled by a store read job. */
struct wfm_qdata {
	/* in */
	int64_t queue_id;
	unsigned days;          /* history days before today */
	int64_t now_ms;
	int64_t day0_ms;        /* today 00:00 UTC */
	int64_t hist_start_ms;  /* day0_ms - days * WFM_DAY_MS */
	/* out */
	bool found;
	char queue_name[128];
	double sl_fraction, sl_seconds; /* the queue's service-level goal */
	size_t n;               /* days * 96 + 96: the history, then today */
	double *arrivals;       /* task.created per interval */
	double *handle_sum;     /* seconds of handle time, by interval of acceptance */
	double *handle_n;       /* handled contacts, by interval of acceptance */
	double *talk_sum;       /* accepted to completed, by interval of acceptance */
	double wait_total_s;    /* patience estimator: every contact's wait */
	double n_abandoned, n_answered, n_left; /* left: cancelled, expired, overflowed */
};

/* Allocate the arrays (n from days). 0 or -ENOMEM. */
int api_wfm_qdata_init(struct wfm_qdata *q, int64_t queue_id, unsigned days, int64_t now_ms);
void api_wfm_qdata_free(struct wfm_qdata *q);
/* The store read job body (on a store reader). 0, or a store error;
 * q->found says whether the queue exists. */
int api_wfm_read_queue(struct store_tx *tx, struct wfm_qdata *q);

/* A forecast of one queue from today 00:00 for horizon_days. */
struct wfm_fcast {
	unsigned horizon_days;
	size_t h;                    /* horizon_days * 96 */
	double *arrivals, *aht;      /* h each */
	struct wfm_fc_choice arr_choice, aht_choice;
	int arr_status, aht_status;  /* wfm_fc_select()'s result */
	enum wfm_fc_method arr_method;
	const char *aht_method;      /* a method name or "overall_mean" */
	size_t bt_h;                 /* backtest horizon (intervals) */
	unsigned bt_origins;
	double mean_aht;             /* over the whole history and today; NAN */
	double patience_s;           /* wfm_patience_mle; INFINITY when none */
	size_t elapsed;              /* intervals of today that are over */
	double reforecast[WFM_DAY_IV];
	double scale;
};

/* On a worker: forecast arrivals and handle times (backtest choice),
 * today's re-forecast, the patience estimate. 0, -ENOMEM or -EINVAL. */
int api_wfm_forecast(const struct wfm_qdata *q, unsigned horizon_days, struct wfm_fcast *f);
void api_wfm_fcast_free(struct wfm_fcast *f);

/* Staffing of n intervals (new JSON object): calls, aht_seconds, agents,
 * scheduled, service_level arrays and the settings used. On error returns
 * NULL and sets *err. */
json_t *api_wfm_staff_json(const struct wfm_plan_opts *o, const double *calls,
			   const double *aht, size_t n, long *sched_out, int *err);

/* Query-string staffing settings (model, target_sl, sl_seconds,
 * shrinkage, aht_seconds, patience_seconds) on top of the queue's
 * defaults. */
struct wfm_staff_params {
	int model;                 /* -1: A when the queue has abandonment data */
	double target_sl, sl_seconds, shrinkage;
	double default_aht;        /* when the history has no handle times */
	double patience_s;         /* < 0: estimate */
};

/* Fill plan options and per-interval handle times for a forecast. */
void api_wfm_plan_for(const struct wfm_staff_params *sp, const struct wfm_qdata *q,
		      const struct wfm_fcast *f, struct wfm_plan_opts *o, double *aht_out);

#endif
