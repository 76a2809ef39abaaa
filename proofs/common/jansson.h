/* Stand-in for jansson.h, cut for Frama-C: the EC2 parameter parsers' headers
 * name json_t in prototypes only; no parser analysed calls jansson. */
#ifndef WARD_PROOFS_JANSSON_H
#define WARD_PROOFS_JANSSON_H
typedef struct json_t json_t;
#endif
