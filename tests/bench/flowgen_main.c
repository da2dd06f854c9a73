/*
 * flowgen: send synthetic NetFlow v5/v9, IPFIX or sFlow v5 exports over
 * UDP (sendmmsg, paced or flat out) or write them to a pcap file, and
 * report exactly what went out.
 *
 * Only loopback destinations are accepted: this is a benchmark tool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"
#include "store/store.h"
#include "flowgen.h"

#define MAX_BATCH	1024

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowgen [options] (--send ADDR | --pcap FILE | --dry-run)\n"
"           [--store DIR]\n"
"       flowgen [options] --store DIR\n"
"\n"
"Traffic:\n"
"  -P, --proto P       v5, v9, ipfix or sflow (default v9)\n"
"  -s, --seed N        flow set seed (default 1)\n"
"      --pool N        distinct data datagrams, replayed in a loop (4096)\n"
"      --size BYTES    datagram size budget (1400)\n"
"      --per-packet N  records/samples per datagram (default: fill --size;\n"
"                      v5: 30)\n"
"      --v6 PCT        percent of datagrams with IPv6 flows (0)\n"
"      --hosts N       hosts per side (65536), Zipf popularity\n"
"      --zipf S        Zipf exponent (1.1)\n"
"      --host-salt N   which of the hosts are the popular ones (0: the\n"
"                      default); parts of one flow set made with different\n"
"                      salts share their hosts but not their heavy hitters\n"
"      --exporters N   source ids / domains / engine ids / sub-agents (1)\n"
"      --tpl-every N   v9/IPFIX template refresh per exporter (1000)\n"
"      --sampling N    sFlow sampling rate (1000); v5 header rate (none)\n"
"Output:\n"
"      --send ADDR     UDP to ADDR (127.0.0.0/8 or ::1 only)\n"
"  -p, --port N        UDP port (2055; sflow 6343)\n"
"      --tee PORT      also send every datagram, in the same order, to PORT\n"
"                      on the same address: two collectors get the very same\n"
"                      stream (a datagram counts once both accepted it)\n"
"      --pcap FILE     write an Ethernet/IPv4/UDP pcap instead\n"
"      --dry-run       generate only (speed of the generator itself)\n"
"      --store DIR     also decode every datagram with the node's decoder\n"
"                      (as received from 127.0.0.1:50000 at its export\n"
"                      time) and append the flows to the flow store DIR\n"
"                      (created if missing): the same flow set a collector\n"
"                      is sent, for query tests and benchmarks; alone or\n"
"                      with --send, --pcap or --dry-run\n"
"Limits and pace:\n"
"  -n, --flows N       stop at the first datagram boundary at or past N\n"
"                      flows (default 1000000)\n"
"      --packets N     ... or after N datagrams\n"
"      --pps N         target datagrams per second (default: flat out)\n"
"      --fps N         target flows per second (converted to datagrams)\n"
"  -t, --seconds S     hard time limit (default 60)\n"
"      --batch N       datagrams per sendmmsg call (32)\n"
"      --json          report as one JSON object\n"
"\n"
"The report counts only datagrams the kernel accepted: packets, template\n"
"packets, flows, bytes and packets inside the flows (scaled by sampling,\n"
"as a collector reports them), and UDP payload octets. SIGINT/SIGTERM\n"
"stop the run early; the report is still printed.\n");
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || d < 0 || d > 1.8e19)
		return -1;
	if (*end == 'k' || *end == 'K')
		d *= 1e3, end++;
	else if (*end == 'M' || *end == 'm')
		d *= 1e6, end++;
	else if (*end == 'G' || *end == 'g')
		d *= 1e9, end++;
	if (*end != '\0')
		return -1;
	*v = (uint64_t)d;
	return 0;
}

static int
loopback_dest(const char *s, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sl)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*sl = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*sl = sizeof(*s6);
		return 0;
	}
	return -1;
}

/* --store: the node's decoder feeding a flow store. */
struct tostore {
	store_t *s;
	decoder_t *dec;
	flow_sink_t sink;
	uint64_t flows;		/* flows appended */
	int err;		/* first store error */
};

struct run {
	fg_t *g;
	uint64_t max_flows, max_packets, pps;
	uint64_t deadline_ns;
	unsigned batch;
	fg_totals_t tot;
	uint64_t refused, enobufs;
	uint16_t tee_port;	/* 0: none */
	const char *stopped;
	uint64_t t0_ns, t1_ns;
	struct tostore *ts;	/* NULL without --store */
};

static void
store_flush(flow_sink_t *sink)
{
	struct tostore *ts = sink->arg;
	int rc;

	if (sink->n == 0)
		return;
	if ((rc = store_append(ts->s, sink->flows, sink->n)) != 0 &&
	    ts->err == 0)
		ts->err = rc;
	if (rc == 0)
		ts->flows += sink->n;
	sink->n = 0;
}

static struct tostore *
tostore_open(const char *dir)
{
	struct tostore *ts;
	store_opts_t so;
	char err[256];

	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (ts->sink.flows = calloc(4096, sizeof(store_flow_t))) == NULL ||
	    (ts->dec = decoder_new(NULL)) == NULL) {
		fprintf(stderr, "flowgen: out of memory\n");
		goto fail;
	}
	ts->sink.cap = 4096;
	ts->sink.flush = store_flush;
	ts->sink.arg = ts;
	memset(&so, 0, sizeof(so));
	so.path = dir;
	so.nosync = 1;
	if (store_open(&so, &ts->s, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowgen: store %s: %s\n", dir, err);
		goto fail;
	}
	return ts;
fail:
	if (ts != NULL) {
		decoder_free(ts->dec);
		free(ts->sink.flows);
		free(ts);
	}
	return NULL;
}

/* Decode datagram d, exported at export_ms, into the store. */
static void
tostore_dgram(struct tostore *ts, const fg_dgram_t *d, uint64_t export_ms)
{
	static const uint8_t lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
	    0xff, 127, 0, 0, 1 };

	decoder_packet(ts->dec, lo, 50000, d->buf, d->len, export_ms,
	    &ts->sink);
}

/*
 * Flush, commit and close; *stored gets the flows appended. Returns 0 or
 * the first store error.
 */
static int
tostore_close(struct tostore *ts, uint64_t *stored)
{
	int rc;

	decoder_drop_held(ts->dec);
	store_flush(&ts->sink);
	*stored = ts->flows;
	rc = store_commit(ts->s);
	if (ts->err == 0)
		ts->err = rc;
	store_close(ts->s);
	rc = ts->err;
	decoder_free(ts->dec);
	free(ts->sink.flows);
	free(ts);
	return rc;
}

/* Wait until the monotonic clock reaches t (ns). */
static void
wait_until(uint64_t t)
{
	uint64_t now = mono_ns();

	if (t > now + 200000) {
		struct timespec ts = {
			.tv_sec = (time_t)((t - 100000) / 1000000000u),
			.tv_nsec = (long)((t - 100000) % 1000000000u)
		};

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	while (mono_ns() < t && !stop_signal)
		;
}

/* Collect up to r->batch datagrams that stay within the limits. */
static unsigned
collect(struct run *r, fg_dgram_t *dg, uint64_t wall_ms)
{
	fg_totals_t pend = { 0 };
	unsigned k;

	for (k = 0; k < r->batch; k++) {
		if (r->tot.flows + pend.flows >= r->max_flows ||
		    r->tot.packets + pend.packets >= r->max_packets)
			break;
		fg_next(r->g, wall_ms, &dg[k]);
		fg_totals_add(&pend, &dg[k].t);
	}
	return k;
}

/* Next batch start under pacing: t0 + packets / pps. */
static uint64_t
pace_ns(const struct run *r)
{
	return r->t0_ns + (uint64_t)((double)r->tot.packets * 1e9 /
	    (double)r->pps);
}

/* A UDP socket connected to ss (port replaced by port when non-zero). */
static int
send_socket(const struct sockaddr_storage *ss, socklen_t sl, uint16_t port)
{
	struct sockaddr_storage to = *ss;
	int fd, sz = 4 << 20;

	if (port != 0) {
		if (to.ss_family == AF_INET)
			((struct sockaddr_in *)&to)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&to)->sin6_port = htons(port);
	}
	if ((fd = socket(to.ss_family, SOCK_DGRAM, 0)) == -1) {
		perror("flowgen: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (connect(fd, (const struct sockaddr *)&to, sl) == -1) {
		perror("flowgen: connect");
		close(fd);
		return -1;
	}
	return fd;
}

/* --tee: send msgs[0 .. k - 1] on fd, all of them. Returns 0 or -1. */
static int
tee_send(struct run *r, int fd, struct mmsghdr *msgs, unsigned k)
{
	unsigned sent = 0;

	while (sent < k) {
		int n = sendmmsg(fd, msgs + sent, k - sent, 0);

		if (n < 0) {
			if (errno == ECONNREFUSED) {
				r->refused++;
				continue;
			}
			if (errno == ENOBUFS || errno == EAGAIN) {
				r->enobufs++;
				usleep(50);
				continue;
			}
			if (errno == EINTR)
				continue;
			perror("flowgen: sendmmsg (tee)");
			return -1;
		}
		sent += (unsigned)n;
	}
	return 0;
}

static int
run_send(struct run *r, const struct sockaddr_storage *ss, socklen_t sl)
{
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	static fg_dgram_t dg[MAX_BATCH];
	int fd, tfd = -1;

	if ((fd = send_socket(ss, sl, 0)) == -1)
		return -1;
	if (r->tee_port != 0 && (tfd = send_socket(ss, sl,
	    r->tee_port)) == -1) {
		close(fd);
		return -1;
	}
	r->t0_ns = mono_ns();
	for (;;) {
		unsigned k, sent = 0;
		uint64_t wall;

		if (stop_signal) {
			r->stopped = "signal";
			break;
		}
		if (mono_ns() >= r->deadline_ns) {
			r->stopped = "time";
			break;
		}
		if (r->pps)
			wait_until(pace_ns(r));
		if ((k = collect(r, dg, (wall = now_ms()))) == 0) {
			r->stopped = "count";
			break;
		}
		for (unsigned i = 0; i < k; i++) {
			iov[i].iov_base = (void *)(uintptr_t)dg[i].buf;
			iov[i].iov_len = dg[i].len;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		while (sent < k) {
			int n = sendmmsg(fd, msgs + sent, k - sent, 0);

			if (n < 0) {
				if (errno == ECONNREFUSED) {
					/* a previous datagram found no
					   listener; this one was not sent */
					r->refused++;
					continue;
				}
				if (errno == ENOBUFS || errno == EAGAIN) {
					r->enobufs++;
					usleep(50);
					continue;
				}
				if (errno == EINTR)
					continue;
				perror("flowgen: sendmmsg");
				close(fd);
				if (tfd != -1)
					close(tfd);
				return -1;
			}
			if (tfd != -1 && tee_send(r, tfd, msgs + sent,
			    (unsigned)n) != 0) {
				close(fd);
				close(tfd);
				return -1;
			}
			for (int i = 0; i < n; i++) {
				fg_totals_add(&r->tot, &dg[sent + i].t);
				if (r->ts != NULL)
					tostore_dgram(r->ts, &dg[sent + i],
					    wall);
			}
			sent += (unsigned)n;
		}
	}
	r->t1_ns = mono_ns();
	close(fd);
	if (tfd != -1)
		close(tfd);
	return 0;
}

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static int
run_pcap(struct run *r, const char *path, uint16_t port)
{
	static fg_dgram_t dg[MAX_BATCH];
	uint8_t gh[24], h[16 + 42];
	uint64_t ts_us = now_ms() * 1000;
	uint16_t ipid = 0;
	FILE *fp;

	if ((fp = fopen(path, "wb")) == NULL) {
		perror(path);
		return -1;
	}
	put_le32(gh, 0xa1b2c3d4);
	put_le16(gh + 4, 2);
	put_le16(gh + 6, 4);
	put_le32(gh + 8, 0);
	put_le32(gh + 12, 0);
	put_le32(gh + 16, 65535);
	put_le32(gh + 20, 1);		/* Ethernet */
	fwrite(gh, 1, sizeof(gh), fp);
	r->t0_ns = mono_ns();
	for (;;) {
		unsigned k;

		if (stop_signal || mono_ns() >= r->deadline_ns) {
			r->stopped = stop_signal ? "signal" : "time";
			break;
		}
		if ((k = collect(r, dg, ts_us / 1000)) == 0) {
			r->stopped = "count";
			break;
		}
		for (unsigned i = 0; i < k; i++) {
			uint8_t *e = h + 16, *ip = e + 14, *u = ip + 20;
			uint32_t sum = 0;
			size_t len = dg[i].len;

			memset(h, 0, sizeof(h));
			put_le32(h, (uint32_t)(ts_us / 1000000));
			put_le32(h + 4, (uint32_t)(ts_us % 1000000));
			put_le32(h + 8, (uint32_t)(len + 42));
			put_le32(h + 12, (uint32_t)(len + 42));
			e[5] = 1;
			e[11] = 2;
			put_be16(e + 12, 0x0800);
			ip[0] = 0x45;
			put_be16(ip + 2, (uint16_t)(len + 28));
			put_be16(ip + 4, ipid++);
			ip[8] = 64;
			ip[9] = 17;
			ip[12] = 127; ip[15] = 1;
			ip[16] = 127; ip[19] = 1;
			for (int j = 0; j < 20; j += 2)
				sum += be16(ip + j);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			put_be16(ip + 10, (uint16_t)~sum);
			put_be16(u, 50000);
			put_be16(u + 2, port);
			put_be16(u + 4, (uint16_t)(len + 8));
			if (fwrite(h, 1, sizeof(h), fp) != sizeof(h) ||
			    fwrite(dg[i].buf, 1, len, fp) != len) {
				perror(path);
				fclose(fp);
				return -1;
			}
			fg_totals_add(&r->tot, &dg[i].t);
			if (r->ts != NULL)
				tostore_dgram(r->ts, &dg[i], ts_us / 1000);
			ts_us += r->pps ? 1000000 / r->pps : 10;
		}
	}
	r->t1_ns = mono_ns();
	if (fclose(fp) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static void
run_dry(struct run *r)
{
	static fg_dgram_t dg[MAX_BATCH];

	r->t0_ns = mono_ns();
	for (;;) {
		unsigned k;
		uint64_t wall;

		if (stop_signal || mono_ns() >= r->deadline_ns) {
			r->stopped = stop_signal ? "signal" : "time";
			break;
		}
		wall = now_ms();

		if ((k = collect(r, dg, wall)) == 0) {
			r->stopped = "count";
			break;
		}
		for (unsigned i = 0; i < k; i++) {
			fg_totals_add(&r->tot, &dg[i].t);
			if (r->ts != NULL)
				tostore_dgram(r->ts, &dg[i], wall);
		}
	}
	r->t1_ns = mono_ns();
}

static void
report(const struct run *r, const char *mode, const char *dest, int json,
    uint64_t stored)
{
	double secs = (double)(r->t1_ns - r->t0_ns) / 1e9;
	const fg_opts_t *o = fg_opts(r->g);
	const fg_totals_t *t = &r->tot;
	double pps = secs > 0 ? (double)t->packets / secs : 0;
	double fps = secs > 0 ? (double)t->flows / secs : 0;

	if (json) {
		printf("{\"proto\":\"%s\",\"mode\":\"%s\",\"dest\":\"%s\","
		    "\"packets\":%" PRIu64 ",\"tpl_packets\":%" PRIu64
		    ",\"flows\":%" PRIu64 ",\"bytes\":%" PRIu64
		    ",\"flow_packets\":%" PRIu64 ",\"octets\":%" PRIu64
		    ",\"seconds\":%.6f,\"pps\":%.0f,\"fps\":%.0f"
		    ",\"target_pps\":%" PRIu64 ",\"flows_per_dgram\":%.2f"
		    ",\"refused\":%" PRIu64 ",\"enobufs\":%" PRIu64
		    ",\"seed\":%" PRIu64 ",\"exporters\":%u,\"stopped\":\"%s\""
		    ",\"stored\":%" PRIu64 "}\n",
		    fg_proto_name(o->proto), mode, dest, t->packets,
		    t->tpl_packets, t->flows, t->bytes, t->flow_packets,
		    t->octets, secs, pps, fps, r->pps,
		    fg_flows_per_dgram(r->g), r->refused, r->enobufs, o->seed,
		    o->exporters, r->stopped, stored);
		return;
	}
	printf("proto          %s (%s %s)\n", fg_proto_name(o->proto), mode,
	    dest);
	printf("packets        %" PRIu64 " (templates %" PRIu64 ")\n",
	    t->packets, t->tpl_packets);
	printf("flows          %" PRIu64 " (%.2f per data datagram)\n",
	    t->flows, fg_flows_per_dgram(r->g));
	printf("bytes          %" PRIu64 "\n", t->bytes);
	printf("flow packets   %" PRIu64 "\n", t->flow_packets);
	printf("octets         %" PRIu64 "\n", t->octets);
	printf("seconds        %.3f\n", secs);
	printf("rate           %.0f datagrams/s, %.0f flows/s\n", pps, fps);
	if (r->refused || r->enobufs)
		printf("send errors    refused %" PRIu64 " enobufs %" PRIu64
		    "\n", r->refused, r->enobufs);
	printf("stopped by     %s\n", r->stopped);
	if (r->ts != NULL || stored != 0)
		printf("stored         %" PRIu64 " flows\n", stored);
}

int
main(int argc, char **argv)
{
	enum { O_POOL = 256, O_SIZE, O_PERPKT, O_V6, O_HOSTS, O_ZIPF, O_EXP,
	    O_TPL, O_SAMP, O_SEND, O_PCAP, O_DRY, O_PACKETS, O_PPS, O_FPS,
	    O_BATCH, O_JSON, O_STORE, O_TEE, O_SALT };
	static const struct option lopts[] = {
		{ "proto", required_argument, NULL, 'P' },
		{ "seed", required_argument, NULL, 's' },
		{ "pool", required_argument, NULL, O_POOL },
		{ "size", required_argument, NULL, O_SIZE },
		{ "per-packet", required_argument, NULL, O_PERPKT },
		{ "v6", required_argument, NULL, O_V6 },
		{ "hosts", required_argument, NULL, O_HOSTS },
		{ "zipf", required_argument, NULL, O_ZIPF },
		{ "exporters", required_argument, NULL, O_EXP },
		{ "tpl-every", required_argument, NULL, O_TPL },
		{ "sampling", required_argument, NULL, O_SAMP },
		{ "send", required_argument, NULL, O_SEND },
		{ "port", required_argument, NULL, 'p' },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "flows", required_argument, NULL, 'n' },
		{ "packets", required_argument, NULL, O_PACKETS },
		{ "pps", required_argument, NULL, O_PPS },
		{ "fps", required_argument, NULL, O_FPS },
		{ "seconds", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "json", no_argument, NULL, O_JSON },
		{ "store", required_argument, NULL, O_STORE },
		{ "host-salt", required_argument, NULL, O_SALT },
		{ "tee", required_argument, NULL, O_TEE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	fg_opts_t o = { .proto = FG_V9 };
	struct run r = { .max_flows = 1000000, .max_packets = UINT64_MAX,
	    .batch = 32 };
	const char *send = NULL, *pcap = NULL, *store = NULL;
	uint64_t stored = 0;
	uint64_t v, fps = 0, port = 0;
	double seconds = 60;
	int c, dry = 0, json = 0, rc;
	char err[256], dest[96];
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct sigaction sa;

	while ((c = getopt_long(argc, argv, "P:s:p:n:t:h", lopts,
	    NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == '?') {
			usage(stderr);
			return 2;
		}
		if (c == 'P') {
			if (fg_proto_parse(optarg, &o.proto) == -1)
				goto bad;
			continue;
		}
		if (c == O_SEND) {
			send = optarg;
			continue;
		}
		if (c == O_PCAP) {
			pcap = optarg;
			continue;
		}
		if (c == O_DRY) {
			dry = 1;
			continue;
		}
		if (c == O_STORE) {
			store = optarg;
			continue;
		}
		if (c == O_JSON) {
			json = 1;
			continue;
		}
		if (c == O_SALT) {
			char *end;

			v = strtoull(optarg, &end, 0);
			if (*optarg == '\0' || *end != '\0' || v > UINT32_MAX)
				goto bad;
			o.host_salt = (uint32_t)v;
			continue;
		}
		if (c == O_ZIPF) {
			char *end;

			o.zipf_s = strtod(optarg, &end);
			if (*end != '\0' || o.zipf_s <= 0)
				goto bad;
			continue;
		}
		if (c == 't') {
			char *end;

			seconds = strtod(optarg, &end);
			if (*end != '\0' || seconds <= 0 || seconds > 86400)
				goto bad;
			continue;
		}
		if (parse_u64(optarg, &v) == -1)
			goto bad;
		switch (c) {
		case 's': o.seed = v; break;
		case 'p': port = v; break;
		case 'n': r.max_flows = v; break;
		case O_POOL: o.pool = (unsigned)FF_MIN(v, UINT32_MAX); break;
		case O_SIZE: o.max_size = (unsigned)FF_MIN(v, UINT32_MAX);
			break;
		case O_PERPKT: o.per_packet = (unsigned)FF_MIN(v, 65535);
			break;
		case O_V6: o.v6_pct = (unsigned)FF_MIN(v, UINT32_MAX); break;
		case O_HOSTS: o.hosts = (unsigned)FF_MIN(v, UINT32_MAX);
			break;
		case O_EXP: o.exporters = (unsigned)FF_MIN(v, UINT32_MAX);
			break;
		case O_TPL: o.tpl_every = (unsigned)FF_MIN(v, UINT32_MAX);
			break;
		case O_SAMP: o.sampling = (unsigned)FF_MIN(v, UINT32_MAX);
			break;
		case O_PACKETS: r.max_packets = v; break;
		case O_PPS: r.pps = v; break;
		case O_FPS: fps = v; break;
		case O_TEE:
			if (v == 0 || v > 65535)
				goto bad;
			r.tee_port = (uint16_t)v;
			break;
		case O_BATCH:
			if (v == 0 || v > MAX_BATCH)
				goto bad;
			r.batch = (unsigned)v;
			break;
		default:
			goto bad;
		}
		continue;
bad:
		fprintf(stderr, "flowgen: bad value for option: %s\n",
		    optarg ? optarg : "");
		return 2;
	}
	if (store != NULL && send == NULL && pcap == NULL)
		dry = 1;
	if (optind != argc || (send != NULL) + (pcap != NULL) + dry != 1 ||
	    (r.tee_port != 0 && send == NULL)) {
		usage(stderr);
		return 2;
	}
	if (port == 0)
		port = o.proto == FG_SFLOW ? 6343 : 2055;
	if (port > 65535) {
		fprintf(stderr, "flowgen: bad port\n");
		return 2;
	}
	if (send != NULL && loopback_dest(send, (uint16_t)port, &ss,
	    &sl) == -1) {
		fprintf(stderr, "flowgen: --send needs a loopback address "
		    "(127.0.0.0/8 or ::1): %s\n", send);
		return 2;
	}
	if ((r.g = fg_new(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "flowgen: %s\n", err);
		return 2;
	}
	if (r.batch > fg_max_batch(r.g))
		r.batch = fg_max_batch(r.g);
	if (fps)
		r.pps = (uint64_t)((double)fps / fg_flows_per_dgram(r.g) + 0.5);
	if ((fps || r.pps) && r.pps == 0)
		r.pps = 1;
	r.deadline_ns = mono_ns() + (uint64_t)(seconds * 1e9);
	r.stopped = "count";

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (store != NULL && (r.ts = tostore_open(store)) == NULL) {
		fg_free(r.g);
		return 1;
	}

	if (send != NULL)
		rc = run_send(&r, &ss, sl);
	else if (pcap != NULL)
		rc = run_pcap(&r, pcap, (uint16_t)port);
	else {
		run_dry(&r);
		rc = 0;
	}
	if (r.ts != NULL) {
		int src;

		if ((src = tostore_close(r.ts, &stored)) != 0) {
			fprintf(stderr, "flowgen: store %s: %s\n", store,
			    ff_strerror(src));
			rc = -1;
		}
	}
	if (send != NULL) {
		snprintf(dest, sizeof(dest), "%s%s%s:%u",
		    ss.ss_family == AF_INET6 ? "[" : "", send,
		    ss.ss_family == AF_INET6 ? "]" : "", (unsigned)port);
		if (r.tee_port != 0)
			snprintf(dest + strlen(dest), sizeof(dest) -
			    strlen(dest), "+%u", (unsigned)r.tee_port);
		report(&r, "send", dest, json, stored);
	} else if (pcap != NULL)
		report(&r, "pcap", pcap, json, stored);
	else
		report(&r, store != NULL ? "store" : "dry-run",
		    store != NULL ? store : "-", json, stored);
	fg_free(r.g);
	return rc == 0 ? 0 : 1;
}
