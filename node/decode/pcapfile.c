#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "packet.h"
#include "pcapfile.h"

static int
link_of(int dlt, enum pkt_link *link)
{
	switch (dlt) {
	case DLT_EN10MB:
		*link = PKT_LINK_ETHER;
		return 0;
	case DLT_RAW:
	case 101:	/* LINKTYPE_RAW */
		*link = PKT_LINK_RAW;
		return 0;
	case 228:	/* LINKTYPE_IPV4 */
		*link = PKT_LINK_IPV4;
		return 0;
	case 229:	/* LINKTYPE_IPV6 */
		*link = PKT_LINK_IPV6;
		return 0;
	case DLT_LINUX_SLL:
		*link = PKT_LINK_SLL;
		return 0;
	case DLT_NULL:
	case DLT_LOOP:
		*link = PKT_LINK_NULL;
		return 0;
	}
	return FF_ENOTSUP;
}

int
pcapfile_read(const char *path, pcapfile_cb cb, void *arg,
    pcapfile_stats_t *st, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	enum pkt_link link;
	pcap_t *pc;
	int rc, ret = 0;

	memset(st, 0, sizeof(*st));
	if ((pc = pcap_open_offline(path, ebuf)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, ebuf);
		return FF_EIO;
	}
	if (link_of(pcap_datalink(pc), &link) != 0) {
		snprintf(err, errlen, "%s: link type %s is not supported",
		    path, pcap_datalink_val_to_name(pcap_datalink(pc)) ?
		    pcap_datalink_val_to_name(pcap_datalink(pc)) : "?");
		pcap_close(pc);
		return FF_EPROTO;
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		pkt_info_t pi;
		pcap_udp_t d;

		st->frames++;
		if (packet_parse(data, h->caplen, link, &pi) != 0 ||
		    pi.proto != 17) {
			st->other++;
			continue;
		}
		if (pi.is_frag) {
			st->fragments++;
			continue;
		}
		if (!pi.l4_ok) {
			st->short_frames++;
			continue;
		}
		/* The UDP length must fit in what was captured. */
		if (h->caplen < h->len) {
			st->short_frames++;
			continue;
		}
		memcpy(d.src, pi.src, 16);
		memcpy(d.dst, pi.dst, 16);
		d.sport = pi.sport;
		d.dport = pi.dport;
		d.payload = pi.payload;
		d.len = pi.payload_len;
		d.ts_ms = (uint64_t)h->ts.tv_sec * 1000 +
		    (uint64_t)h->ts.tv_usec / 1000;
		st->udp++;
		if (cb(arg, &d) != 0)
			break;
	}
	if (rc == -1) {
		/* libpcap reports a cut-off last frame as an error */
		const char *msg = pcap_geterr(pc);

		if (strstr(msg, "truncated") != NULL)
			st->truncated = 1;
		else {
			snprintf(err, errlen, "%s: %s", path, msg);
			ret = FF_EIO;
		}
	}
	pcap_close(pc);
	return ret;
}
