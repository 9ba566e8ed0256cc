/* scan_ref.h: the reference copies of the two raw HTTP scanners
 * (reqscan_ref.c, uresp_ref.c: the code before the fast paths, names
 * prefixed ref_), for the differential test and fuzz targets only. They
 * share struct reqscan and struct uresp with the real ones. */
#ifndef SCOPEGATE_SCAN_REF_H
#define SCOPEGATE_SCAN_REF_H

#include <stddef.h>
#include <stdint.h>

#include "reqscan.h"
#include "uresp.h"

void ref_reqscan_init(struct reqscan *s, size_t max_head, uint64_t max_body);
enum reqscan_result ref_reqscan_feed(struct reqscan *s, const unsigned char *p, size_t n);
size_t ref_reqscan_feed_some(struct reqscan *s, const unsigned char *p, size_t n,
    int *in_head, int *head_done, enum reqscan_result *res);
size_t ref_reqscan_feed_body(struct reqscan *s, const unsigned char *p, size_t n,
    int *is_data, int *done, enum reqscan_result *res);
size_t ref_reqscan_head_strip(const char *h, size_t hlen, char *out, int *expect);
uint64_t ref_reqscan_body_length(const struct reqscan *s, int *chunked);
int ref_reqscan_in_head(const struct reqscan *s);
int ref_reqscan_in_body(const struct reqscan *s);

void ref_uresp_init(struct uresp *r, size_t max_head);
void ref_uresp_reset(struct uresp *r, int head_request);
enum uresp_event ref_uresp_feed(struct uresp *r, const char *data, size_t len, size_t *used,
    const char **body, size_t *body_len);
enum uresp_event ref_uresp_eof(struct uresp *r);
void ref_uresp_free(struct uresp *r);

#endif
