/*
 * The lexer of the filter language (nfdump 1.7's filter syntax, see
 * docs/FILTER.md): words, operators and punctuation, the keywords, and
 * what a word can stand for (a number, an address, a protocol name).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "common/util.h"
#include "filter.h"
#include "filter_lex.h"

static const struct {
	const char *name;
	enum kw kw;
} keywords[] = {
	{ "any", KW_ANY },
	{ "ip", KW_IP },
	{ "host", KW_IP },
	{ "net", KW_NET },
	{ "port", KW_PORT },
	{ "proto", KW_PROTO },
	{ "src", KW_SRC },
	{ "dst", KW_DST },
	{ "in", KW_IN },
	{ "out", KW_OUT },
	{ "as", KW_AS },
	{ "if", KW_IF },
	{ "tos", KW_TOS },
	{ "mask", KW_MASK },
	{ "bytes", KW_BYTES },
	{ "packets", KW_PACKETS },
	{ "flags", KW_FLAGS },
	{ "next", KW_NEXT },
	{ "router", KW_ROUTER },
	{ "inet", KW_INET },
	{ "ipv4", KW_INET },
	{ "inet6", KW_INET6 },
	{ "ipv6", KW_INET6 },
	{ "icmp-type", KW_ICMP_TYPE },
	{ "icmp-code", KW_ICMP_CODE },
	{ "tag", KW_TAG },
	/* nfdump 1.7 terms for fields the flow store does not keep */
	{ "tunip", KW_UNSUPPORTED }, { "tun", KW_UNSUPPORTED },
	{ "mac", KW_UNSUPPORTED }, { "mpls", KW_UNSUPPORTED },
	{ "ident", KW_UNSUPPORTED }, { "nfversion", KW_UNSUPPORTED },
	{ "count", KW_UNSUPPORTED }, { "dir", KW_UNSUPPORTED },
	{ "flowdir", KW_UNSUPPORTED }, { "geo", KW_UNSUPPORTED },
	{ "flowlabel", KW_UNSUPPORTED }, { "flows", KW_UNSUPPORTED },
	{ "bpp", KW_UNSUPPORTED }, { "bps", KW_UNSUPPORTED },
	{ "pps", KW_UNSUPPORTED }, { "duration", KW_UNSUPPORTED },
	{ "engine-type", KW_UNSUPPORTED }, { "engine-id", KW_UNSUPPORTED },
	{ "prev", KW_UNSUPPORTED }, { "previous", KW_UNSUPPORTED },
	{ "ingress", KW_UNSUPPORTED }, { "egress", KW_UNSUPPORTED },
	{ "bgpnext", KW_UNSUPPORTED }, { "vlan", KW_UNSUPPORTED },
	{ "fwdstat", KW_UNSUPPORTED }, { "client", KW_UNSUPPORTED },
	{ "server", KW_UNSUPPORTED }, { "app", KW_UNSUPPORTED },
	{ "latency", KW_UNSUPPORTED }, { "sysid", KW_UNSUPPORTED },
	{ "observation", KW_UNSUPPORTED }, { "asa", KW_UNSUPPORTED },
	{ "event", KW_UNSUPPORTED }, { "xevent", KW_UNSUPPORTED },
	{ "xip", KW_UNSUPPORTED }, { "xnet", KW_UNSUPPORTED },
	{ "xport", KW_UNSUPPORTED }, { "nip", KW_UNSUPPORTED },
	{ "nport", KW_UNSUPPORTED }, { "nat", KW_UNSUPPORTED },
	{ "vrf", KW_UNSUPPORTED }, { "pblock", KW_UNSUPPORTED },
	{ "payload", KW_UNSUPPORTED },
};

int
filter_word_char(int c)
{
	return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

int
filter_word_eq(const struct token *t, const char *s)
{
	size_t n = strlen(s);

	return t->len == n && strncasecmp(t->s, s, n) == 0;
}

void
filter_lex(struct flexer *p)
{
	struct token *t = &p->tok;
	const char *s = p->text;
	size_t n = p->len, i = p->pos;

	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n' || s[i] == '\f' || s[i] == '\v')) {
			if (s[i] == '\n') {
				p->line++;
				p->line_start = i + 1;
			}
			i++;
		}
		if (i < n && s[i] == '#') {
			while (i < n && s[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	t->s = s + i;
	t->line = p->line;
	t->col = i - p->line_start + 1;
	t->kw = KW_NONE;
	t->len = 1;
	if (i >= n) {
		t->t = T_END;
		t->len = 0;
		p->pos = i;
		return;
	}
	switch (s[i]) {
	case '(': t->t = T_LPAREN; break;
	case ')': t->t = T_RPAREN; break;
	case '[': t->t = T_LBRACK; break;
	case ']': t->t = T_RBRACK; break;
	case ',': t->t = T_COMMA; break;
	case '/': t->t = T_SLASH; break;
	case '!': t->t = T_NOT; break;
	case '&':
	case '|':
		if (i + 1 < n && s[i + 1] == s[i]) {
			t->t = s[i] == '&' ? T_AND : T_OR;
			t->len = 2;
		} else
			t->t = T_BAD;
		break;
	case '=':
		t->t = T_EQ;
		if (i + 1 < n && s[i + 1] == '=')
			t->len = 2;
		break;
	case '<':
	case '>':
		t->t = s[i] == '<' ? T_LT : T_GT;
		if (i + 1 < n && s[i + 1] == '=') {
			t->t = s[i] == '<' ? T_LE : T_GE;
			t->len = 2;
		}
		break;
	default:
		if (!filter_word_char((unsigned char)s[i])) {
			t->t = T_BAD;
			break;
		}
		while (i + t->len < n &&
		    filter_word_char((unsigned char)s[i + t->len]))
			t->len++;
		t->t = T_WORD;
		if (filter_word_eq(t, "and"))
			t->t = T_AND;
		else if (filter_word_eq(t, "or"))
			t->t = T_OR;
		else if (filter_word_eq(t, "not"))
			t->t = T_NOT;
		else if (filter_word_eq(t, "eq"))
			t->t = T_EQ;
		else if (filter_word_eq(t, "lt"))
			t->t = T_LT;
		else if (filter_word_eq(t, "gt"))
			t->t = T_GT;
		else if (filter_word_eq(t, "le"))
			t->t = T_LE;
		else if (filter_word_eq(t, "ge"))
			t->t = T_GE;
		else {
			for (size_t k = 0; k < FF_NELEM(keywords); k++)
				if (filter_word_eq(t, keywords[k].name)) {
					t->kw = keywords[k].kw;
					break;
				}
		}
		break;
	}
	p->pos = i + t->len;
}

void
filter_lex_start(struct flexer *lx, const char *text, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->text = text;
	lx->len = len;
	lx->line = 1;
	filter_lex(lx);
}

int
filter_tok_number(const struct token *t, uint64_t *out)
{
	const char *s = t->s;
	size_t n = t->len, i = 0;
	uint64_t v = 0, scale = 1;

	if (t->t != T_WORD || n == 0)
		return -1;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n; i++) {
			int c = (unsigned char)s[i], d;

			if (!isxdigit(c))
				return -1;
			d = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
			if (v > (UINT64_MAX >> 4))
				return -2;
			v = v << 4 | (uint64_t)d;
		}
		*out = v;
		return 0;
	}
	switch (s[n - 1]) {
	case 'k': case 'K': scale = 1000ULL; n--; break;
	case 'm': case 'M': scale = 1000000ULL; n--; break;
	case 'g': case 'G': scale = 1000000000ULL; n--; break;
	case 't': case 'T': scale = 1000000000000ULL; n--; break;
	}
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
	}
	for (i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	if (v > UINT64_MAX / scale)
		return -2;
	*out = v * scale;
	return 0;
}

/*
 * Dotted IPv4 with 1 to 4 parts of decimal octets (leading zeros are
 * decimal, as in nfdump). Returns the number of parts, 0 if invalid.
 */
static int
parse_v4(const char *s, size_t n, uint8_t out[4])
{
	int parts = 0;
	size_t i = 0;

	memset(out, 0, 4);
	while (parts < 4) {
		unsigned v = 0;
		size_t digits = 0;

		while (i < n && isdigit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return 0;
		out[parts++] = (uint8_t)v;
		if (i == n)
			return parts;
		if (s[i] != '.')
			return 0;
		i++;
	}
	return 0;
}

int
filter_tok_addr(const struct token *t, int partial, uint8_t a[16], int *is4,
    unsigned *bits)
{
	char buf[64];
	uint8_t v4[4];
	int parts;

	if (t->t != T_WORD || t->len == 0 || t->len >= sizeof(buf))
		return -1;
	if (memchr(t->s, ':', t->len) != NULL) {
		memcpy(buf, t->s, t->len);
		buf[t->len] = '\0';
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -1;
		*is4 = 0;
		*bits = 128;
		return 0;
	}
	parts = parse_v4(t->s, t->len, v4);
	if (parts == 0 || (parts < 4 && (!partial || parts < 2)))
		return -1;
	addr_from_v4(a, v4);
	*is4 = 1;
	*bits = 8 * (unsigned)parts;
	return 0;
}

/*
 * IP protocol names as nfdump 1.7 knows them (its protoList): a name
 * stands for its index; matching is case-insensitive and the first
 * entry wins where names repeat.
 */
static const char *const proto_names[] = {
	"0", "ICMP", "IGMP", "GGP", "IPIP", "ST", "TCP", "CBT", "EGP", "IGP",
	"BBN", "NVPII", "PUP", "ARGUS", "ENCOM", "XNET", "CHAOS", "UDP", "MUX",
	"DCN", "HMP", "PRM", "XNS", "Trnk1", "Trnk2", "Leaf1", "Leaf2", "RDP",
	"IRTP", "ISO-4", "NETBK", "MFESP", "MEINP", "DCCP", "3PC", "IDPR",
	"XTP", "DDP", "IDPR", "TP++", "IL", "IPv6", "SDRP", "Rte6", "Frag6",
	"IDRP", "RSVP", "GRE", "MHRP", "BNA", "ESP", "AH", "INLSP", "SWIPE",
	"NARP", "MOBIL", "TLSP", "SKIP", "ICMP6", "NOHE6", "OPTS6", "HOST",
	"CFTP", "NET", "SATNT", "KLAN", "RVD", "IPPC", "FS", "SATM", "VISA",
	"IPCV", "CPNX", "CPHB", "WSN", "PVP", "BSATM", "SUNND", "WBMON",
	"WBEXP", "ISOIP", "VMTP", "SVMTP", "VINES", "TTP", "NSIGP", "DGP",
	"TCF", "EIGRP", "OSPF", "S-RPC", "LARP", "MTP", "AX.25", "IPIP",
	"MICP", "SCCSP", "ETHIP", "ENCAP", "99", "GMTP", "IFMP", "PNNI", "PIM",
	"ARIS", "SCPS", "QNX", "A/N", "IPcmp", "SNP", "CpqPP", "IPXIP", "VRRP",
	"PGM", "0hop", "L2TP", "DDX", "IATP", "STP", "SRP", "UTI", "SMP", "SM",
	"PTP", "ISIS4", "FIRE", "CRTP", "CRUDP", "128", "IPLT", "SPS", "PIPE",
	"SCTP", "FC", "134", "MHEAD", "UDP-L", "MPLS",
};

int
filter_proto_lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < FF_NELEM(proto_names); i++)
		if (strlen(proto_names[i]) == n &&
		    strncasecmp(proto_names[i], s, n) == 0)
			return (int)i;
	return -1;
}

const char *
filter_proto_name(unsigned p)
{
	const char *s;
	size_t n;

	if (p >= FF_NELEM(proto_names))
		return NULL;
	s = proto_names[p];
	n = strlen(s);
	if (isdigit((unsigned char)s[0]) || filter_proto_lookup(s, n) != (int)p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!filter_word_char((unsigned char)s[i]))
			return NULL;
	return s;
}
