/* ec2: the EC2 Query API in ward-api (docs/api.md#ec2) — what the action
 * modules (ec2_vpc.c, ec2_sg.c, ec2_volume.c) share: the request context,
 * replies and errors in EC2's shapes, authorisation with DryRun, generic
 * Describe (IDs, filters, pagination), and the parameter parsers
 * (ec2_params.c, fuzzed) for Filter.N, ID lists, tags and IpPermissions. */
#ifndef WARD_API_EC2_H
#define WARD_API_EC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"

/* ---- parameter parsers (ec2_params.c): pure, over a parsed query ---------- */

#define EC2_MAX_FILTERS 50
#define EC2_MAX_FILTER_VALUES 200	/* all filters together */
#define EC2_MAX_IDS 200
#define EC2_MAX_TAGS 50
#define EC2_MAX_RULES 60		/* per direction, as ward-net's model allows */

struct ec2_filter {
	const char *name;
	const char **values;	/* into ec2_filters.value */
	size_t n;
};

struct ec2_filters {
	struct ec2_filter f[EC2_MAX_FILTERS];
	size_t n;
	const char *value[EC2_MAX_FILTER_VALUES];
	size_t n_values;
};

struct ec2_tag {
	const char *key, *value;
};

struct ec2_tags {
	struct ec2_tag t[EC2_MAX_TAGS];
	size_t n;
};

/* One security-group rule in ward-net's terms (docs/formats.md): proto
 * "all", "tcp", "udp", "icmp" or "0".."255"; ports for tcp/udp, icmp
 * type/code (-1 = any) for icmp; exactly one peer, a CIDR or a group. */
struct ec2_rule {
	char proto[8];
	int from, to;
	char cidr[19];		/* a.b.c.d/n, no host bits; "" when the peer is a group */
	char group[32];		/* sg-...; "" when the peer is a CIDR */
	const char *desc;	/* may be NULL */
};

/* All return 0 or -EINVAL with err saying what was wrong (the text of an
 * InvalidParameterValue / MissingParameter). Strings point into q. */

/* Filter.N.Name, Filter.N.Value.M (N, M from 1, no gaps; no stray
 * Filter.* parameters). */
int ec2_parse_filters(const struct query *q, struct ec2_filters *out, char *err, size_t len);
/* <prefix>.N (VpcId.1, VpcId.2 ...), at most EC2_MAX_IDS, no gaps. */
int ec2_parse_ids(const struct query *q, const char *prefix, const char **ids, size_t *n,
		  char *err, size_t len);
/* Free text a caller may store (tag keys and values, descriptions, group
 * names): min..max bytes, no control characters, since it reaches logs
 * and ward-net's tables. */
bool ec2_text_ok(const char *s, size_t min, size_t max);
/* An id of the form prefix + [a-z0-9-], under 32 characters. */
bool ec2_id_ok(const char *s, const char *prefix);
/* TagSpecification.N.ResourceType/.Tag.M.Key/.Value for a resource of
 * type rtype ("vpc", "volume" ...): keys 1-128 characters, not "aws:"...,
 * values 0-256, no key twice, at most EC2_MAX_TAGS. */
int ec2_parse_tags(const struct query *q, const char *rtype, struct ec2_tags *out, char *err,
		   size_t len);
/* IpPermissions.N.{IpProtocol,FromPort,ToPort,IpRanges.M.CidrIp,
 * IpRanges.M.Description,Groups.M.GroupId}, or the older top-level
 * IpProtocol/FromPort/ToPort/CidrIp. Each (permission, peer) is a rule. */
int ec2_parse_rules(const struct query *q, struct ec2_rule *out, size_t max, size_t *n,
		    char *err, size_t len);
/* a.b.c.d/n with min <= n <= max and no host bits. */
int ec2_parse_cidr(const char *s, unsigned min, unsigned max, uint32_t *addr, unsigned *plen);
/* "true"/"false"; absent gives def. -EINVAL otherwise. */
int ec2_parse_bool(const struct query *q, const char *name, bool def, bool *out);
/* A decimal integer in [min, max]; -ENOENT when absent. */
int ec2_parse_int(const struct query *q, const char *name, long min, long max, long *out);

/* RunInstances' own parameters (ec2_instance.c): ImageId ("ami-" + the
 * host store's image name), InstanceType (ec2_place.h's table; t3.micro),
 * MinCount/MaxCount (1..20), ClientToken, SubnetId, SecurityGroupId.N.
 * -ENOENT (MissingParameter), -EOPNOTSUPP (a parameter ward does not
 * offer yet), -EINVAL. Strings point into q. */
struct ec2_itype;
struct ec2_run {
	const char *image, *token, *subnet;
	const struct ec2_itype *type;
	unsigned min, max;
	const char *groups[EC2_MAX_IDS];
	size_t n_groups;
};
int ec2_parse_run(const struct query *q, struct ec2_run *out, char *err, size_t len);

/* AttachVolume, DetachVolume, DescribeImages (ec2_attach_params.c). -ENOENT
 * MissingParameter, -EBADF a malformed volume or image id, -ESRCH a
 * malformed instance id, -EINVAL otherwise. Strings point into q. */
#define EC2_IMAGE_ID_MAX 52	/* "ami-" + a host store's name, 1-48 */
#define EC2_MAX_OWNERS 10
struct ec2_attach {
	const char *volume, *instance, *device;
};
struct ec2_detach {
	const char *volume, *instance, *device;	/* instance, device: may be NULL */
	bool force;
};
struct ec2_images {
	const char *ids[EC2_MAX_IDS], *owners[EC2_MAX_OWNERS], *exec_by[EC2_MAX_OWNERS];
	size_t n_ids, n_owners, n_exec_by;
};
int ec2_parse_attach(const struct query *q, struct ec2_attach *out, char *err, size_t len);
int ec2_parse_detach(const struct query *q, struct ec2_detach *out, char *err, size_t len);
int ec2_parse_images(const struct query *q, struct ec2_images *out, char *err, size_t len);
/* CreateTags/DeleteTags: ResourceId.N (1-200 ids), Tag.N.Key/.Value;
 * CreateTags needs a tag (a missing value is ""), DeleteTags takes none
 * (all of them) and a tag without Value (any value: value NULL). */
struct ec2_tag_request {
	const char *ids[EC2_MAX_IDS];
	size_t n_ids;
	struct ec2_tag tags[EC2_MAX_TAGS];
	size_t n_tags;
};
int ec2_parse_tag_request(const struct query *q, bool deleting, struct ec2_tag_request *out,
			  char *err, size_t len);
bool ec2_volume_id_ok(const char *s);
bool ec2_instance_id_ok(const char *s);
bool ec2_device_ok(const char *s);
bool ec2_image_id_ok(const char *s);

/* ---- request context, replies, authorisation (ec2.c) ----------------------- */

struct ec2_req {
	struct api *a;
	struct store_txn *t;
	const struct api_caller *c;
	const struct query *q;
	double now;
	struct api_reply *r;
	const char *action;
};

void ec2_error(struct ec2_req *q, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* <ActionResponse xmlns=EC2_NS><requestId>… */
void ec2_begin(struct ec2_req *q, struct xml *x);
void ec2_end(struct ec2_req *q, struct xml *x);
/* <ActionResponse><requestId/><return>true</return></ActionResponse> */
void ec2_reply_return(struct ec2_req *q);

/* arn:aws:ec2:REGION:ACCOUNT:<type>/<id> */
void ec2_arn(struct ec2_req *q, char *out, size_t len, const char *type, const char *id);
/* Authorises "ec2:<q->action>" on each of the n ARNs and honours DryRun:
 * true means go ahead; false means the reply is made (UnauthorizedOperation
 * with an encoded message, DryRunOperation, or a DryRun parse error). */
bool ec2_allowed(struct ec2_req *q, const char *const *arns, size_t n);
/* A fresh id "<prefix>-" + 17 hex digits into out (32 bytes). */
bool ec2_new_id(struct ec2_req *q, const char *prefix, char out[32]);
/* The required parameter name, or NULL with MissingParameter made. */
const char *ec2_required(struct ec2_req *q, const char *name);
/* Availability zone: REGIONa..c; NULL with the error made. def: absent allowed. */
const char *ec2_zone(struct ec2_req *q, const char *name, bool required);

/* ClientToken idempotency (CreateVolume, RunInstances; docs/api.md#idempotency).
 * What a token stands for: sha256 hex of every parameter but ClientToken,
 * DryRun and Version, in name order (botocore's order is not part of the
 * contract), as name \0 value \0 each so no two lists hash alike. */
void ec2_token_fingerprint(const struct query *q, char out[65]);
/* The token's record id: sha256 hex of action \0 token (the token is free
 * text, up to 64 printable characters; the id a fixed word). */
void ec2_token_id(const char *action, const char *token, char out[65]);

/* Store documents (JSON) under "ec2/<kind>/<id>". */
json_t *ec2_load(struct ec2_req *q, const char *kind, const char *id);
int ec2_save(struct ec2_req *q, bool create, const char *kind, const char *id, json_t *o);
int ec2_drop(struct ec2_req *q, const char *kind, const char *id);
/* Index entries "ec2/<kind>/<a>/<b>" whose key is their content. */
int ec2_index_put(struct ec2_req *q, const char *kind, const char *a, const char *b);
int ec2_index_del(struct ec2_req *q, const char *kind, const char *a, const char *b);
/* Entries under "ec2/<kind>/<a>/"; (size_t)-1 on a store error. */
size_t ec2_index_count(struct ec2_req *q, const char *kind, const char *a);
/* 500 ServiceFailure when rc != 0. */
bool ec2_failed(struct ec2_req *q, int rc, const char *what);

/* Tags: into the document (an object "Tags": {key: value}) and out as
 * <tagSet><item><key/><value/></item>… */
void ec2_tags_set(json_t *o, const struct ec2_tags *tags);
void ec2_write_tags(struct xml *x, const json_t *o);
const char *ec2_jstr(const json_t *o, const char *k);

/* Filter names an object kind supports: a JSON key of its document
 * (string, integer or boolean), or a custom getter. Every kind also
 * supports tag:<key> and tag-key. */
struct ec2_field {
	const char *filter;
	const char *key;
};

struct ec2_describe {
	const char *kind;	/* store kind, "vpc" */
	const char *id_param;	/* "VpcId" (VpcId.N) */
	const char *id_key;	/* "VpcId" in the document */
	const char *not_found;	/* "InvalidVpcID.NotFound" */
	const char *noun;	/* "vpc ID" for the message */
	const char *set;	/* "vpcSet" */
	const struct ec2_field *fields;	/* NULL-terminated */
	long max_min, max_max;	/* MaxResults range */
	void (*write)(struct xml *x, const json_t *o);
};

void ec2_describe(struct ec2_req *q, const struct ec2_describe *d);
/* Whether o passes every filter (values matched with * and ? wildcards). */
bool ec2_filters_match(const struct ec2_filters *f, const struct ec2_field *fields,
		       const json_t *o);
/* Whether every filter name is one that fields (or tag:, tag-key) knows. */
const char *ec2_filters_unknown(const struct ec2_filters *f, const struct ec2_field *fields);

/* Action handlers. */
void ec2_create_vpc(struct ec2_req *q);
void ec2_delete_vpc(struct ec2_req *q);
void ec2_describe_vpcs(struct ec2_req *q);
void ec2_create_subnet(struct ec2_req *q);
void ec2_delete_subnet(struct ec2_req *q);
void ec2_describe_subnets(struct ec2_req *q);
void ec2_create_security_group(struct ec2_req *q);
void ec2_delete_security_group(struct ec2_req *q);
void ec2_describe_security_groups(struct ec2_req *q);
void ec2_authorize_ingress(struct ec2_req *q);
void ec2_authorize_egress(struct ec2_req *q);
void ec2_revoke_ingress(struct ec2_req *q);
void ec2_revoke_egress(struct ec2_req *q);
/* The default group of a new VPC (ec2_sg.c), in the same transaction. */
int ec2_sg_create_default(struct ec2_req *q, const char *vpc_id, char group_id[32]);
/* Removes group g's document, name key and VPC index entry. */
int ec2_sg_drop(struct ec2_req *q, const json_t *g);
void ec2_create_volume(struct ec2_req *q);
void ec2_delete_volume(struct ec2_req *q);
void ec2_describe_volumes(struct ec2_req *q);
/* Instances (ec2_instance.c, docs/api.md#instances). */
void ec2_run_instances(struct ec2_req *q);
void ec2_describe_instances(struct ec2_req *q);
void ec2_stop_instances(struct ec2_req *q);
void ec2_start_instances(struct ec2_req *q);
void ec2_terminate_instances(struct ec2_req *q);
/* EC2's code of a state name: pending 0, running 16, shutting-down 32,
 * terminated 48, stopping 64, stopped 80. */
int ec2_instance_state_code(const char *state);
/* The attach flow (ec2_attach.c, docs/api.md#volume-attachments). */
void ec2_attach_volume(struct ec2_req *q);
void ec2_detach_volume(struct ec2_req *q);
/* Volumes attached to instance id (ec2/instancevolume/<id>/…): TerminateInstances
 * marks them detaching (the reconciler frees them once the instance ended);
 * StartInstances refuses while any is attached. (size_t)-1 on a store error. */
size_t ec2_attach_count(struct ec2_req *q, const char *instance);
/* DescribeInstances' blockDeviceMapping: [{Device, VolumeId, State,
 * AttachTime, DeleteOnTermination}] of the instance's volumes; NULL on a
 * store error. */
json_t *ec2_attach_mappings(struct ec2_req *q, const char *instance);
int ec2_attach_release_all(struct ec2_req *q, const char *instance);
/* Images (ec2_image.c): what the admitted hosts' stores hold. */
void ec2_describe_images(struct ec2_req *q);
/* Tags on stored resources (ec2_tags.c). */
void ec2_create_tags(struct ec2_req *q);
void ec2_delete_tags(struct ec2_req *q);
void ec2_describe_tags(struct ec2_req *q);

#endif
