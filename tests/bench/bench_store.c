/*
 * bench_store: the flow store's write and scan rates and its size on disk,
 * one core. Prints figures; it does not pass or fail on time.
 *
 * Flow set: flowgen NetFlow v9 (seed 1, 4 exporters, Zipf host
 * popularity, the generator's mix of protocols, services and sizes),
 * decoded by the node's decoder into store records, N flows in receive
 * order (default 4M). The same datagrams sent to nfcapd -y give the
 * rival's size (see the report of the storage engine).
 *
 * Figures, each the median of RUNS runs, in flows per CPU second of the
 * thread doing the work (CLOCK_THREAD_CPUTIME_ID; wall time beside it):
 *   encode        blk_encode() of 32768-row blocks from memory
 *   append+commit store_append() of 1024-flow batches into a fresh store
 *                 (nosync) with 32768-row blocks, store_commit() at the
 *                 end: encoding, LMDB writes, commits
 *   scan 2 cols   scan of every block decoding src address + bytes,
 *                 summing both (so the arrays are read)
 *   scan all      scan decoding every column, summing bytes
 *   decode 2/all  blk_decode() of the same blocks from memory
 * and the size: encoded block bytes per flow, LMDB pages in use per flow,
 * data.mdb file size per flow, and per column the stored bytes per flow
 * with the representation mix.
 *
 * Usage: bench_store [-n FLOWS] [-r RUNS] [-l ZSTD_LEVEL] [-d DIR]
 *        [-6 PERCENT_OF_DATAGRAMS_WITH_IPV6_FLOWS]
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"
#include "store/block.h"
#include "store/storage.h"
#include "flowgen.h"

#define MAX_RUNS	15
#define BLOCK_ROWS	32768

static store_flow_t *flows;
static size_t nflows, capflows;

static void
sink_keep(flow_sink_t *s)
{
	size_t n = FF_MIN(s->n, capflows - nflows);

	memcpy(flows + nflows, s->flows, n * sizeof(*flows));
	nflows += n;
	s->n = 0;
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Make the flow set: v9 datagrams from flowgen through the decoder. */
static int
make_flows(size_t want, unsigned v6_pct)
{
	fg_opts_t o = { .proto = FG_V9, .seed = 1, .exporters = 4,
	    .pool = 16384, .v6_pct = v6_pct };
	uint8_t addr[16], lo[4] = { 127, 0, 0, 1 };
	store_flow_t *slots;
	flow_sink_t sink;
	char err[256];
	decoder_t *d;
	fg_dgram_t dg;
	uint64_t now = 1700000000000ull;
	double t = 0;
	fg_t *g;

	addr_from_v4(addr, lo);
	if ((g = fg_new(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_store: flowgen: %s\n", err);
		return -1;
	}
	d = decoder_new(NULL);
	flows = calloc(want, sizeof(*flows));
	slots = calloc(1024, sizeof(*slots));
	if (d == NULL || flows == NULL || slots == NULL)
		return -1;
	capflows = want;
	sink = (flow_sink_t){ .flows = slots, .cap = 1024, .flush = sink_keep };
	while (nflows < want) {
		fg_next(g, now, &dg);
		decoder_packet(d, addr, 50000, dg.buf, dg.len, now, &sink);
		sink.flush(&sink);
		/* about 1M flows/s of export */
		t += (double)dg.t.flows / 1000.0;
		now = 1700000000000ull + (uint64_t)t;
	}
	decoder_free(d);
	fg_free(g);
	free(slots);
	return 0;
}

static void
rm_store(const char *dir)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static volatile uint64_t sink_sum;

/* Scan every block of s decoding cols; returns flows, CPU ns in *ns. */
static uint64_t
scan_pass(store_t *s, uint32_t cols, uint64_t *ns, uint64_t *wall)
{
	store_scan_t *sc;
	store_colbatch_t cb;
	uint64_t n = 0, sum = 0, c0, w0;

	w0 = mono_ns();
	c0 = cpu_ns();
	if (store_scan_open(s, 0, UINT64_MAX, cols, 0, 1, &sc) != 0)
		return 0;
	while (store_scan_next(sc, &cb) == 1) {
		if (cb.bytes != NULL)
			for (size_t i = 0; i < cb.n; i++)
				sum += cb.bytes[i];
		if (cb.v4 & STORE_COLBIT(STORE_COL_SRC)) {
			for (size_t i = 0; i < cb.n; i++)
				sum += cb.src4[i];
		} else if (cb.src16 != NULL) {
			for (size_t i = 0; i < cb.n; i++)
				sum += cb.src16[i][15];
		}
		n += cb.n;
	}
	store_scan_close(sc);
	*ns = cpu_ns() - c0;
	*wall = mono_ns() - w0;
	sink_sum += sum;
	return n;
}

/* A thread scanning src + bytes over and over until told to stop. */
struct bg {
	store_t *s;
	atomic_int stop;
	uint64_t flows, ns, wall;
};

static void *
bg_scan(void *arg)
{
	struct bg *b = arg;

	while (!atomic_load(&b->stop)) {
		uint64_t ns, wall;

		b->flows += scan_pass(b->s, STORE_COLBIT(STORE_COL_SRC) |
		    STORE_COLBIT(STORE_COL_BYTES), &ns, &wall);
		b->ns += ns;
		b->wall += wall;
	}
	return NULL;
}

/* Append every flow into s in 1024-flow batches and commit. */
static void
append_all(store_t *s, uint64_t *ns, uint64_t *wall)
{
	uint64_t c0 = cpu_ns(), w0 = mono_ns();

	for (size_t i = 0; i < nflows; i += 1024)
		store_append(s, flows + i, FF_MIN(1024, nflows - i));
	store_commit(s);
	*ns = cpu_ns() - c0;
	*wall = mono_ns() - w0;
}

static const char *col_names[STORE_COL_COUNT] = {
#define STORE_COLUMN(id, name, type, rank, filter, list) #name,
#include "store/columns.def"
#undef STORE_COLUMN
};

int
main(int argc, char **argv)
{
	size_t want = 4000000;
	unsigned runs = 5, v6 = 0;
	int level = 1, ch;
	const char *base = "/tmp";
	store_opts_t o = { .block_rows = BLOCK_ROWS, .nosync = 1 };
	double r_enc[MAX_RUNS], r_app[MAX_RUNS], w_app[MAX_RUNS];
	double r_s2[MAX_RUNS], r_sa[MAX_RUNS], w_s2[MAX_RUNS], w_sa[MAX_RUNS];
	double r_d2[MAX_RUNS], r_da[MAX_RUNS];
	double c_app, c_wapp, c_scan, c_wscan, s_app, s_wapp;
	store_stats_t st2;
	uint64_t colbytes[STORE_COL_COUNT] = { 0 }, reps[STORE_COL_COUNT][7] = { { 0 } };
	uint64_t enc_total = 0, nblocks = 0;
	uint8_t **blocks = NULL;
	size_t *blens = NULL;
	char dir[512], path[600], err[256];
	store_stats_t st;
	struct stat sb;
	store_t *s = NULL;

	while ((ch = getopt(argc, argv, "n:r:l:d:6:")) != -1) {
		switch (ch) {
		case '6': v6 = (unsigned)atoi(optarg); break;
		case 'n': want = strtoull(optarg, NULL, 10); break;
		case 'r': runs = (unsigned)atoi(optarg); break;
		case 'l': level = atoi(optarg); break;
		case 'd': base = optarg; break;
		default:
			fprintf(stderr, "usage: bench_store [-n FLOWS] "
			    "[-r RUNS] [-l ZSTD_LEVEL] [-d DIR] [-6 V6_PCT]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || want < BLOCK_ROWS) {
		fprintf(stderr, "bench_store: bad -r or -n\n");
		return 2;
	}
	o.zstd_level = level;
	if (make_flows(want, v6) != 0) {
		fprintf(stderr, "bench_store: cannot make the flow set\n");
		return 1;
	}
	printf("bench_store: %zu flows (flowgen v9 seed 1, 4 exporters, "
	    "%u%% IPv6 datagrams, decoded), blocks of %d rows, zstd level %d, "
	    "%u runs, median\n", nflows, v6, BLOCK_ROWS, level, runs);

	/* encode from memory */
	nblocks = (nflows + BLOCK_ROWS - 1) / BLOCK_ROWS;
	blocks = calloc(nblocks, sizeof(*blocks));
	blens = calloc(nblocks, sizeof(*blens));
	for (unsigned r = 0; r < runs; r++) {
		blk_enc_t *e = blk_enc_new(level);
		struct colbuf b;
		uint64_t ns = 0;

		colbuf_init(&b, BLOCK_ROWS);
		for (size_t i = 0, k = 0; i < nflows; i += BLOCK_ROWS, k++) {
			size_t n = FF_MIN(BLOCK_ROWS, nflows - i);
			const uint8_t *out;
			blk_info_t info;
			store_colbatch_t cb;
			uint64_t c0;
			size_t len;

			b.n = 0;
			for (size_t j = 0; j < n; j++)
				colbuf_add(&b, &flows[i + j]);
			colbuf_view(&b, &cb);
			c0 = cpu_ns();
			blk_encode(e, &cb, &out, &len, &info);
			ns += cpu_ns() - c0;
			if (r == 0) {
				blocks[k] = malloc(len);
				memcpy(blocks[k], out, len);
				blens[k] = len;
				enc_total += len;
			}
		}
		r_enc[r] = (double)nflows / ((double)ns / 1e9);
		colbuf_free(&b);
		blk_enc_free(e);
	}

	/* decode from memory */
	for (unsigned r = 0; r < runs; r++) {
		blk_dec_t *d = blk_dec_new();
		uint64_t ns2 = 0, nsa = 0, c0, sum = 0;
		store_colbatch_t cb;

		for (size_t k = 0; k < nblocks; k++) {
			c0 = cpu_ns();
			blk_decode(d, blocks[k], blens[k],
			    STORE_COLBIT(STORE_COL_SRC) | STORE_COLBIT(STORE_COL_BYTES),
			    &cb);
			ns2 += cpu_ns() - c0;
			sum += cb.bytes[0];
			c0 = cpu_ns();
			blk_decode(d, blocks[k], blens[k], STORE_COLS_ALL, &cb);
			nsa += cpu_ns() - c0;
			sum += cb.bytes[0];
		}
		sink_sum += sum;
		r_d2[r] = (double)nflows / ((double)ns2 / 1e9);
		r_da[r] = (double)nflows / ((double)nsa / 1e9);
		blk_dec_free(d);
	}

	/* per column sizes */
	for (size_t k = 0; k < nblocks; k++) {
		blk_coldesc_t desc[STORE_COL_COUNT];
		uint32_t rows;

		if (blk_describe(blocks[k], blens[k], &rows, desc) != 0)
			continue;
		for (int c = 0; c < STORE_COL_COUNT; c++) {
			colbytes[c] += desc[c].clen;
			if (desc[c].codec == BLK_CODEC_ZSTD)
				reps[c][6]++;
			else if (desc[c].rep <= BLK_REP_ADICT)
				reps[c][desc[c].rep]++;
		}
	}

	/* append + commit into a store, then scans */
	for (unsigned r = 0; r < runs; r++) {
		uint64_t ns, wall;

		snprintf(dir, sizeof(dir), "%s/ff-bench-store-XXXXXX", base);
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		o.path = dir;
		if (store_open(&o, &s, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_store: %s\n", err);
			return 1;
		}
		append_all(s, &ns, &wall);
		r_app[r] = (double)nflows / ((double)ns / 1e9);
		w_app[r] = (double)nflows / ((double)wall / 1e9);
		if (r + 1 < runs) {
			store_close(s);
			rm_store(dir);
		}
	}
	store_get_stats(s, &st);
	if (st.flows != nflows || st.write_errors != 0) {
		fprintf(stderr, "bench_store: stored %" PRIu64 " of %zu flows, "
		    "%" PRIu64 " write errors\n", st.flows, nflows,
		    st.write_errors);
		return 1;
	}
	for (unsigned r = 0; r < runs; r++) {
		uint64_t ns, wall, n;

		n = scan_pass(s, STORE_COLBIT(STORE_COL_SRC) |
		    STORE_COLBIT(STORE_COL_BYTES), &ns, &wall);
		r_s2[r] = (double)n / ((double)ns / 1e9);
		w_s2[r] = (double)n / ((double)wall / 1e9);
		n = scan_pass(s, STORE_COLS_ALL, &ns, &wall);
		r_sa[r] = (double)n / ((double)ns / 1e9);
		w_sa[r] = (double)n / ((double)wall / 1e9);
	}
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb) != 0)
		sb.st_size = 0;

	/* the same flows again while another thread scans */
	{
		struct bg b = { .s = s };
		pthread_t t;
		uint64_t ns, wall;

		atomic_init(&b.stop, 0);
		pthread_create(&t, NULL, bg_scan, &b);
		append_all(s, &ns, &wall);
		atomic_store(&b.stop, 1);
		pthread_join(t, NULL);
		c_app = (double)nflows / ((double)ns / 1e9);
		c_wapp = (double)nflows / ((double)wall / 1e9);
		c_scan = b.ns ? (double)b.flows / ((double)b.ns / 1e9) : 0;
		c_wscan = b.wall ? (double)b.flows / ((double)b.wall / 1e9) :
		    0;
	}
	store_close(s);
	rm_store(dir);

	/* once in the default sync mode (an fsync per commit) */
	{
		store_opts_t so = o;
		uint64_t ns, wall;

		snprintf(dir, sizeof(dir), "%s/ff-bench-store-XXXXXX", base);
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		so.path = dir;
		so.nosync = 0;
		if (store_open(&so, &s, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_store: %s\n", err);
			return 1;
		}
		append_all(s, &ns, &wall);
		store_get_stats(s, &st2);
		s_wapp = (double)nflows / ((double)wall / 1e9);
		s_app = (double)nflows / ((double)ns / 1e9);
		store_close(s);
		rm_store(dir);
	}

	printf("  encode (blk_encode)     %8.2f M flows/s  (%.0f ns/flow)\n",
	    median(r_enc, runs) / 1e6, 1e9 / median(r_enc, runs));
	printf("  append+commit           %8.2f M flows/s  (%.0f ns/flow; "
	    "wall %.2f M/s)\n", median(r_app, runs) / 1e6,
	    1e9 / median(r_app, runs), median(w_app, runs) / 1e6);
	printf("  decode src+bytes        %8.2f M flows/s  (%.1f ns/flow)\n",
	    median(r_d2, runs) / 1e6, 1e9 / median(r_d2, runs));
	printf("  decode all columns      %8.2f M flows/s  (%.1f ns/flow)\n",
	    median(r_da, runs) / 1e6, 1e9 / median(r_da, runs));
	printf("  scan src+bytes          %8.2f M flows/s  (wall %.2f M/s)\n",
	    median(r_s2, runs) / 1e6, median(w_s2, runs) / 1e6);
	printf("  scan all columns        %8.2f M flows/s  (wall %.2f M/s)\n",
	    median(r_sa, runs) / 1e6, median(w_sa, runs) / 1e6);
	printf("  append+commit while another thread scans src+bytes: "
	    "%.2f M flows/s (wall %.2f M/s); the scans meanwhile %.2f M "
	    "flows/s (wall %.2f M/s)\n", c_app / 1e6, c_wapp / 1e6,
	    c_scan / 1e6, c_wscan / 1e6);
	printf("  append+commit, sync mode (fsync per commit, %" PRIu64
	    " commits): %.2f M flows/s CPU, wall %.2f M/s\n", st2.commits,
	    s_app / 1e6, s_wapp / 1e6);
	printf("  size: blocks %.2f B/flow, LMDB pages in use %.2f B/flow, "
	    "data.mdb %.2f B/flow\n", (double)enc_total / (double)nflows,
	    (double)st.bytes_used / (double)nflows,
	    (double)sb.st_size / (double)nflows);
	printf("  per column: B/flow, then blocks stored const/for/raw16/"
	    "bits/dict/adict/zstd\n");
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		printf("    %-10s %6.3f ", col_names[c],
		    (double)colbytes[c] / (double)nflows);
		for (int k = 0; k < 7; k++)
			printf(" %" PRIu64, reps[c][k]);
		printf("\n");
	}
	for (size_t k = 0; k < nblocks; k++)
		free(blocks[k]);
	free(blocks);
	free(blens);
	free(flows);
	return 0;
}
