/* bench/chat: the pieces shared by the load client and the echo floor. */
#ifndef HL_BENCH_CHAT_H
#define HL_BENCH_CHAT_H

#include <stdarg.h>
#include <stdbool.h>

/* The bare libwebsockets relay (chat_echo.c): serves 127.0.0.1:port until
 * SIGTERM; ev: on lws's libev loop instead of its default poll() loop.
 * Returns the process exit code. */
int chat_echo_main(int port, bool ev);

#include <stdlib.h>
/* The leading decimal integer of s (0 when there is none or it is out of
 * int range): for status lines, /proc names and command-line numbers. */
static inline int bench_int(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return end == s || v < -2147483647L || v > 2147483647L ? 0 : (int)v;
}

#endif
