// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the Kafka decoder: the bytes are what a hostile or
 * broken client could put on the broker's socket.
 *
 * Input: byte 0 selects the Produce version (mod 16, so 14 and 15 exercise
 * the version check), the rest is a request frame without its size prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/kapi.h"
#include "kproto.h"

/* A decode that says OK must describe something that fits in the input. */
static void check_produce(const struct kproto_produce *p, size_t len)
{
	if (p->body_len > len)
		abort();
	for (size_t i = 0; i < p->ntopics; i++) {
		const struct kproto_topic *t = &p->topics[i];

		if (memchr(t->name, '\0', sizeof(t->name)) == NULL)
			abort();
		for (size_t j = 0; j < t->nparts; j++)
			if (t->parts[j].record_bytes > (int64_t)len)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kproto_req_header h;
	struct kproto_resp_header r;
	struct kproto_produce p;
	struct kproto_fetch f;
	struct kproto_partition part = {0};
	int16_t version;

	if (size < 1)
		return 0;
	version = (int16_t)(data[0] % 16);
	data++;
	size--;

	if (kproto_decode_request_header(data, size, &h) == KPROTO_OK) {
		if (h.header_len > size)
			abort();
		if (kproto_decode_produce(data + h.header_len, size - h.header_len, version, &p) ==
		    KPROTO_OK)
			check_produce(&p, size - h.header_len);
		kproto_produce_free(&p);
		if (kproto_decode_fetch(data + h.header_len, size - h.header_len, version, &f) ==
			KPROTO_OK &&
		    f.body_len > size - h.header_len)
			abort();
		kproto_fetch_free(&f);
		(void)kapi_name(h.api_key);
	}
	if (kproto_decode_response_header(data, size, version & 1, &r) == KPROTO_OK &&
	    r.header_len > size)
		abort();
	(void)kproto_scan_records(data, size, &part);
	return 0;
}
