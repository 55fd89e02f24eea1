/*
 * core.c: start-up, the main loop and shutdown.
 *
 * Start order: raise the descriptor limit, libre_init and fd_setsize, block
 * SIGTERM/SIGINT so that only this thread receives them, open the store
 * (migrations run here), create the first admin if there is no user, load
 * routing (queues, agents and open tasks: core_routing.c), start the worker
 * pool and the web thread, open SIP (src/voice), unblock the signals and
 * enter re_main. Stop order is the reverse: routing answers the commands it
 * holds (core_routing_drain), the web thread drains its requests (their
 * store jobs complete), then the store finishes
 * every queued write and closes, then the workers. Anything acknowledged
 * to a client was committed before the acknowledgement, so a kill -9 at any
 * point loses nothing acknowledged.
 */
#include "core/core.h"
#include "core/core_int.h"
#include "api/api.h"
#include "base/base.h"
#include "store/store.h"
#include "voice/voice.h"

#include <re.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define MOD "core"

static struct api *the_api; /* read by the store's event hook */
static struct core_routing *the_routing; /* likewise, under api_lock */
static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop_signal;

static void on_events(const struct store_event *evs, size_t n, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&api_lock);
	if (the_api)
		api_publish_events(the_api, evs, n);
	core_routing_events(the_routing, evs, n);
	pthread_mutex_unlock(&api_lock);
}

static void on_signal(int sig)
{
	stop_signal = sig;
	re_cancel();
}

int core_open_store(const struct core_opts *o, struct store **stp)
{
	char url[1200];
	if (mkdir(o->data_dir, 0750) && errno != EEXIST) {
		LOG_ERROR(MOD, "cannot create data directory %s: %s", o->data_dir, strerror(errno));
		return -errno;
	}
	if (o->store_url && *o->store_url)
		snprintf(url, sizeof(url), "%s", o->store_url);
	else
		snprintf(url, sizeof(url), "sqlite:%s/hotline.db", o->data_dir);
	struct store_opts so = {.url = url, .event_h = on_events};
	return store_open(stp, &so);
}

/* First start: make the admin user. The password comes from
 * HOTLINE_ADMIN_PASSWORD or is generated and printed once. */
static int ensure_admin(struct store *st)
{
	int64_t n = 0;
	int r = api_user_count(st, &n);
	if (r || n > 0)
		return r;
	const char *pw = getenv("HOTLINE_ADMIN_PASSWORD");
	char gen[32];
	if (!pw || !*pw) {
		unsigned char raw[12];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(gen, sizeof(gen), raw, sizeof(raw),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		pw = gen;
	}
	r = api_user_add(st, "admin", "admin", pw);
	if (r) {
		LOG_ERROR(MOD, "could not create the admin user (password must be 8 to 256 characters): %d", r);
		return r;
	}
	if (pw == gen) {
		printf("\n  Hotline first start: user 'admin', password '%s' (shown once)\n\n", gen);
		fflush(stdout);
	}
	LOG_INFO(MOD, "created the admin user");
	return 0;
}

/* SIP lives in the voice channel (src/voice); the core opens and closes it.
 * Phone accounts: <data>/sip_accounts (htdigest); TLS on the SIP port + 1
 * when <data>/sip_tls.pem (certificate and key) exists (docs/VOICE.md). */
static struct voice *the_voice;

/* The core's task API (core_routing_task_*) as the voice module sees it. */
struct vr_hook {
	voice_note_h *h;
	void *arg;
};

static void vr_note(const struct core_task_note *n, void *arg)
{
	struct vr_hook *k = arg;
	struct voice_note vn = {.type = (enum voice_note_type)n->type, .task = n->task,
				.offer = n->offer, .version = n->version,
				.timeout_ms = n->timeout_ms, .agent = n->agent,
				.username = n->username, .state = n->state};
	k->h(&vn, k->arg);
}

/* One hook per voice module: the voice module passes itself as harg and
 * tells calls apart by task id. */
static struct vr_hook vr_hook;

static int vr_task_open(void *arg, uint32_t queue, const char *attributes, voice_note_h *h,
			void *harg, int64_t *task)
{
	vr_hook.h = h;
	vr_hook.arg = harg;
	return core_routing_task_open(arg, queue, "voice", attributes, vr_note, &vr_hook, task);
}
static int vr_task_abandon(void *arg, int64_t task)
{
	return core_routing_task_abandon(arg, task, "caller hung up");
}
static int vr_task_end(void *arg, int64_t task)
{
	return core_routing_task_end(arg, task);
}
static int vr_offer_answer(void *arg, int64_t offer, uint32_t version, int accept)
{
	return core_routing_offer_answer(arg, offer, version, accept != 0);
}
static void vr_task_detach(void *arg, int64_t task)
{
	core_routing_task_detach(arg, task);
}

/* call.* events, written with the core's next batch (core_routing.c). */
static int vr_event(void *arg, const char *type, int64_t task, uint32_t agent, uint32_t queue,
		    const char *payload)
{
	return core_routing_call_event(arg, type, task, agent, queue, payload);
}
/* A queue's voice settings, and open now by its business hours. */
static int vr_queue_info(void *arg, uint32_t queue, struct voice_queue_info *out)
{
	return core_routing_queue_info(arg, queue, out);
}
/* Place and estimated wait: the routing engine's own estimate (average
 * handle time x position / slots serving the queue), as GET /tasks shows. */
static int vr_task_position(void *arg, int64_t task, unsigned *pos, unsigned *ewt_s)
{
	return core_routing_task_position(arg, task, pos, ewt_s);
}

static int sip_start(const struct core_opts *o, struct core_routing *cr)
{
	static struct voice_routing vr;
	vr = (struct voice_routing){.arg = cr, .task_open = vr_task_open,
				    .task_abandon = vr_task_abandon, .task_end = vr_task_end,
				    .offer_answer = vr_offer_answer, .task_detach = vr_task_detach,
				    .event = vr_event, .queue_info = vr_queue_info,
				    .task_position = vr_task_position};
	char accounts[1100], tls[1100], numbers[1100], trunks[1100];
	snprintf(accounts, sizeof(accounts), "%s/sip_accounts", o->data_dir);
	snprintf(tls, sizeof(tls), "%s/sip_tls.pem", o->data_dir);
	snprintf(numbers, sizeof(numbers), "%s/voice_numbers", o->data_dir);
	snprintf(trunks, sizeof(trunks), "%s/voice_trunks", o->data_dir);
	struct voice_opts vo = {.bind = o->bind, .port = o->sip_port, .accounts_file = accounts,
				.tls_file = tls, .numbers_file = numbers, .trunks_file = trunks,
				.routing = &vr};
	int r = voice_start(&the_voice, &vo);
	if (!r)
		core_routing_set_voice(cr, the_voice); /* the API's call commands */
	return r;
}

static void sip_stop(void)
{
	core_routing_set_voice(the_routing, NULL);
	voice_stop(the_voice);
	the_voice = NULL;
	/* the calls' last events (call.ended as they are dropped) */
	core_routing_call_events_sync(the_routing);
}

int core_run(const struct core_opts *o)
{
	struct store *st = NULL;
	struct base_workq *wq = NULL;
	struct api *a = NULL;
	struct core_routing *cr = NULL;
	int code = 1;

	/* Every WebSocket and RTP leg is a descriptor: take what we may. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (libre_init()) {
		LOG_ERROR(MOD, "libre_init failed");
		return 1;
	}
	fd_setsize(rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur);

	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	signal(SIGPIPE, SIG_IGN);

	if (sodium_init() < 0) {
		LOG_ERROR(MOD, "libsodium failed to initialise");
		goto out;
	}
	if (core_open_store(o, &st))
		goto out;
	if (ensure_admin(st))
		goto out;
	if (core_routing_alloc(&cr, st))
		goto out;
	pthread_mutex_lock(&api_lock);
	the_routing = cr;
	pthread_mutex_unlock(&api_lock);
	if (base_workq_alloc(&wq, 2, "hl-work"))
		goto out;
	struct api_opts ao = {.bind = o->bind, .port = o->http_port, .web_dir = o->web_dir,
			      .data_dir = o->data_dir,
			      .store = st, .workq = wq};
	if (api_start(&a, &ao))
		goto out;
	pthread_mutex_lock(&api_lock);
	the_api = a;
	pthread_mutex_unlock(&api_lock);
	core_routing_attach(cr, a);
	if (o->sip_port > 0 && sip_start(o, cr))
		goto out;

	LOG_INFO(MOD, "hotline %s ready: http://%s:%d/ (store %s)", HL_VERSION,
		 (o->bind && *o->bind) ? o->bind : "localhost", api_port(a), store_backend(st));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	re_main(on_signal);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	LOG_INFO(MOD, "stopping (signal %d)", (int)stop_signal);
	code = 0;
	/* routing commands in flight are answered before the web thread stops */
	core_routing_drain(cr);

out:
	core_routing_drain(cr); /* no-op after the first call (start-up failures) */
	sip_stop();
	if (a) {
		pthread_mutex_lock(&api_lock);
		the_api = NULL;
		pthread_mutex_unlock(&api_lock);
		api_stop(a, o->drain_ms ? o->drain_ms : 3000);
	}
	store_close(st);
	pthread_mutex_lock(&api_lock);
	the_routing = NULL;
	pthread_mutex_unlock(&api_lock);
	core_routing_free(cr);
	base_workq_free(wq);
	libre_close();
	if (code == 0)
		LOG_INFO(MOD, "stopped cleanly");
	return code;
}
