/* help: every `ward` command's help text in one table, so `ward --help`,
 * `ward COMMAND --help`, `ward COMMAND SUB --help` and usage errors all
 * say the same thing (docs/cli.md keeps the reference). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/apiclient.h"
#include "cli/help.h"

#define EXIT_LINES \
	"exit status: 0 done; 1 the request or check failed (HTTP error, transport,\n" \
	"  verification); 2 usage error (docs/cli.md)\n"

#define CONN_LINES \
	"connection: --url URL --cert PEM --key PEM --ca PEM before COMMAND\n" \
	"  (defaults from WARD_URL, WARD_CERT, WARD_KEY, WARD_CA)\n"

#define SIZE_LINE \
	"SIZE: 64M, 1G, 4096K (K/M/G/T are powers of 1024)"

struct help {
	const char *cmd, *sub, *text;
};

static const struct help helps[] = {
	{ NULL, NULL,
"usage: ward [--url URL] [--cert PEM] [--key PEM] [--ca PEM] COMMAND [ARGS]\n"
"       ward --help | --version | help [COMMAND [SUBCOMMAND]]\n"
"commands (each has its own --help):\n"
"  host                  host state, boot verdict, audit key\n"
"  health                liveness and host state\n"
"  drain                 stop accepting new instances (operator)\n"
"  instance              run, list, show and stop instances\n"
"  image                 list the guest images the host can launch\n"
"  volume                encrypted volumes: create, attach, detach, list\n"
"  enclave               enclave images (EIF) and their PCRs, offline\n"
"  attestation           check an attestation document, offline\n"
"  audit                 the host's audit log: checkpoint, list, fetch, verify\n"
"  vpc, subnet, sg,      the host's VPC model (ward-net): create, list, delete,\n"
"  eni, nacl             rules and groups (control plane)\n"
"  underlay              the peer list and mapping table ward-net's encrypted\n"
"                        underlay gets (control plane)\n"
"listing commands print a table; --json prints JSON (stable keys, docs/cli.md)\n"
CONN_LINES EXIT_LINES },
	{ "vpc", NULL,
"usage: ward vpc create --cidr CIDR | list [--json] | delete ID\n"
"  A VPC and its default security group (inbound from itself, all outbound).\n"
CONN_LINES EXIT_LINES },
	{ "subnet", NULL,
"usage: ward subnet create --vpc ID --cidr CIDR | list [--json] | delete ID\n"
CONN_LINES EXIT_LINES },
	{ "sg", NULL,
"usage: ward sg create --vpc ID | list [--json] | delete ID\n"
"       ward sg authorize|revoke ID --ingress|--egress --proto all|tcp|udp|icmp|N\n"
"            [--port N[-M]] [--icmp TYPE[:CODE]] (--cidr CIDR | --source-group ID)\n"
"  Security groups: allow-only and stateful; a new group allows no inbound.\n"
CONN_LINES EXIT_LINES },
	{ "eni", NULL,
"usage: ward eni create --subnet ID [--ip A] [--security-group ID]... [--mtu 1500|9001]\n"
"            [--no-source-dest-check] | list [--json] | delete ID\n"
"       ward eni set-groups ID --security-group ID...\n"
CONN_LINES EXIT_LINES },
	{ "nacl", NULL,
"usage: ward nacl create --vpc ID | list [--json] | delete ID\n"
"       ward nacl authorize ID --ingress|--egress --rule N --action allow|deny\n"
"            --proto all|tcp|udp|icmp|N [--port N[-M]] [--icmp TYPE[:CODE]] --cidr CIDR\n"
"       ward nacl revoke ID --ingress|--egress --rule N\n"
"       ward nacl associate|disassociate ID --subnet ID\n"
"  Network ACLs: numbered rules, first match wins, then deny.\n"
CONN_LINES EXIT_LINES },
	{ "underlay", NULL,
"usage: ward underlay list [--json]\n"
"       ward underlay peer HOST ADDR | peer-remove HOST\n"
"       ward underlay map|unmap HOST VPC VNI IP\n"
"  The hosts ward-net exchanges keys with (HOST: its host id, ADDR: its underlay\n"
"  IPv4) and which host owns an address of a VPC (VNI: the VPC's Geneve VNI).\n"
"  ward-net judges each change; only what it took is kept. peer-remove takes\n"
"  the host's mappings with it.\n"
CONN_LINES EXIT_LINES },
	{ "host", NULL,
"usage: ward host\n"
"  The host's state, boot verdict and audit public key (JSON, control plane).\n"
CONN_LINES EXIT_LINES },
	{ "health", NULL,
"usage: ward health\n"
"  Liveness and host state (JSON; any role).\n"
CONN_LINES EXIT_LINES },
	{ "drain", NULL,
"usage: ward drain\n"
"  Stop accepting new instances; running ones keep running (operator role).\n"
CONN_LINES EXIT_LINES },
	{ "instance", NULL,
"usage: ward instance run --image NAME [LAUNCH OPTIONS]\n"
"       ward instance list [--json]\n"
"       ward instance show ID [--json]\n"
"       ward instance stop ID\n"
"       ward instance console ID [--follow]\n"
"  `ward instance SUBCOMMAND --help` for each.\n"
CONN_LINES EXIT_LINES },
	{ "instance", "run",
"usage: ward instance run --image NAME [--memory SIZE] [--vcpus N]\n"
"                         [--cpu fixed|burstable] [--hugepages 2M|1G] [--cmdline STR]\n"
"                         [--eni ID | --subnet ID [--security-group ID]...]\n"
"  Start an instance of image NAME; prints the new instance (JSON).\n"
"  --eni ID        its network interface, served by the host's ward-net\n"
"  --subnet ID     a new ENI in that subnet (POST /v1/enis) for it, with the\n"
"                  groups given by --security-group (default: the VPC's)\n"
"  --memory SIZE   guest memory, whole MiB (a bare number is MiB)\n"
"  --vcpus N       vCPUs; the host enforces its range (1 to 64, its free cores)\n"
"  --cpu fixed     whole cores of its own, or refused; burstable shares cores\n"
"  --hugepages     back guest memory with 2M or 1G hugepages\n"
"  --cmdline STR   the guest kernel's command line\n"
SIZE_LINE "\n" CONN_LINES EXIT_LINES },
	{ "instance", "list",
"usage: ward instance list [--json]\n"
"  One line per instance: ID STATE IMAGE VCPUS MEMORY (the operator role sees\n"
"  ids and states only). --json: the API's {\"instances\": [...]} as is.\n"
CONN_LINES EXIT_LINES },
	{ "instance", "show",
"usage: ward instance show ID [--json]\n"
"  Everything the host API tells of one instance: image, state, memory, vCPUs,\n"
"  CPU mode and host CPUs, hugepages, pid, uid, created, exit code, volumes.\n"
"  --json: the API's object as is.\n"
CONN_LINES EXIT_LINES },
	{ "instance", "stop",
"usage: ward instance stop ID\n"
"  Stop the instance; its volume keys are wiped on the host.\n"
CONN_LINES EXIT_LINES },
	{ "instance", "console",
"usage: ward instance console ID [--follow]\n"
"  The instance's serial console as the host keeps it (its last 64 KiB; control\n"
"  plane role only), written to stdout as it is. Bytes the host had already\n"
"  overwritten are reported on stderr. --follow: keep reading new output until\n"
"  the instance ends or the command is interrupted.\n"
CONN_LINES EXIT_LINES },
	{ "image", NULL,
"usage: ward image list [--json]\n"
"  The guest images this host can launch (`instance run --image NAME`).\n"
CONN_LINES EXIT_LINES },
	{ "image", "list",
"usage: ward image list [--json]\n"
"  One line per image: NAME SOURCE (firmware-store: verified by the boot chain;\n"
"  directory: a development host's image directory); control plane role only.\n"
"  --json: the API's {\"images\": [{\"name\", \"source\"}...]} as is.\n"
CONN_LINES EXIT_LINES },
	{ "volume", NULL,
"usage: ward volume [--cp-dir DIR] [--kms-url URL] [--kms-ca PEM] SUBCOMMAND\n"
"  create --size SIZE --kms-key KEY [--id ID] [--backing PATH]\n"
"  attach VOLUME --image NAME [--host HOST_ID] [--fas-seconds N] [--spec-only]\n"
"         " API_LAUNCH_USAGE "\n"
"  detach VOLUME\n"
"  list [--json]\n"
"  (defaults from WARD_CP_DIR, WARD_KMS_URL, WARD_KMS_CA; the caller's key from\n"
"   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; docs/attach.md)\n"
CONN_LINES EXIT_LINES },
	{ "volume", "create",
"usage: ward volume create --size SIZE --kms-key KEY [--id ID] [--backing PATH]\n"
"  A new encrypted volume: a KMS data key wrapped under KEY, its metadata in\n"
"  the control plane's state (never the plaintext key). Prints it (JSON).\n"
"  --size SIZE: a multiple of 4096 bytes (a bare number is bytes)\n"
SIZE_LINE "\n" EXIT_LINES },
	{ "volume", "attach",
"usage: ward volume attach VOLUME --image NAME [--host HOST_ID] [--fas-seconds 1-300]\n"
"                          [--spec-only] " API_LAUNCH_USAGE "\n"
"  Launch an instance of NAME with VOLUME attached; the host fetches the key\n"
"  from KMS through a grant and forward access session (docs/attach.md).\n"
SIZE_LINE "\n" EXIT_LINES },
	{ "volume", "detach",
"usage: ward volume detach VOLUME\n"
"  Detach VOLUME from its instance (the host wipes its key) and retire the grant.\n"
EXIT_LINES },
	{ "volume", "list",
"usage: ward volume list [--json]\n"
"  One line per volume: ID SIZE INSTANCE KEY. --json: the control plane's\n"
"  volume records, keyed by id.\n"
EXIT_LINES },
	{ "enclave", NULL,
"usage: ward enclave build --kernel FILE --cmdline STR --ramdisk FILE [--ramdisk FILE]...\n"
"           [--signing-certificate PEM --private-key PEM] --output-file FILE\n"
"       ward enclave describe-eif --eif-path FILE\n"
"  Offline: no host needed (docs/enclaves.md).\n" EXIT_LINES },
	{ "enclave", "build",
"usage: ward enclave build --kernel FILE --cmdline STR --ramdisk FILE [--ramdisk FILE]...\n"
"           [--signing-certificate PEM --private-key PEM] --output-file FILE\n"
"  Build an enclave image file (EIF) and print its PCRs (JSON).\n" EXIT_LINES },
	{ "enclave", "describe-eif",
"usage: ward enclave describe-eif --eif-path FILE\n"
"  The PCRs and sections of an EIF (JSON).\n" EXIT_LINES },
	{ "attestation", NULL,
"usage: ward attestation verify DOC --root PEM [--at document|UNIX_SECONDS] [--nonce HEX]\n"
"  DOC: the COSE_Sign1 document, raw CBOR or base64. --at: check the\n"
"  certificates at the document's own timestamp or at a given time (default:\n"
"  now). Offline.\n" EXIT_LINES },
	{ "attestation", "verify",
"usage: ward attestation verify DOC --root PEM [--at document|UNIX_SECONDS] [--nonce HEX]\n"
"  Check an attestation document's signature chain to PEM, offline.\n" EXIT_LINES },
	{ "audit", NULL,
"usage: ward audit checkpoint\n"
"       ward audit list [--from N] [--to N] [--json]\n"
"       ward audit fetch --out DIR\n"
"       ward audit verify DIR --pubkey PEM [--origin ORIGIN] [--min-counter N]\n"
"  `ward audit SUBCOMMAND --help` for each (docs/audit.md).\n"
CONN_LINES EXIT_LINES },
	{ "audit", "checkpoint",
"usage: ward audit checkpoint\n"
"  The latest signed checkpoint (size, root hash, TPM counter, signature).\n"
CONN_LINES EXIT_LINES },
	{ "audit", "list",
"usage: ward audit list [--from N] [--to N] [--json]\n"
"  Audit records [N, M): one line each: INDEX TIME ROLE ACTION OUTCOME.\n"
"  --json: a JSON array of the records as the host stores them.\n"
CONN_LINES EXIT_LINES },
	{ "audit", "fetch",
"usage: ward audit fetch --out DIR\n"
"  The checkpoint and every leaf it covers into DIR (the previous checkpoint\n"
"  is kept as DIR/checkpoint.prev).\n"
CONN_LINES EXIT_LINES },
	{ "audit", "verify",
"usage: ward audit verify DIR --pubkey PEM [--origin ORIGIN] [--min-counter N]\n"
"  Offline: signatures, tree, inclusion of every leaf, consistency with\n"
"  DIR/checkpoint.prev; --min-counter: a TPM checkpoint number known reached.\n"
EXIT_LINES },
	{ "help", NULL,
"usage: ward help [COMMAND [SUBCOMMAND]]\n"
"  The same as `ward COMMAND [SUBCOMMAND] --help`.\n" EXIT_LINES },
};

static const struct help *find(const char *cmd, const char *sub)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		const struct help *h = &helps[i];

		if ((!cmd && !h->cmd) || (cmd && h->cmd && !strcmp(cmd, h->cmd) &&
					  ((!sub && !h->sub) || (sub && h->sub && !strcmp(sub, h->sub)))))
			return h;
	}
	return NULL;
}

int help_print(FILE *f, const char *cmd, const char *sub)
{
	const struct help *h = find(cmd, sub);

	/* An unknown subcommand gets its command's overview. */
	if (!h && sub)
		h = find(cmd, NULL);
	if (!h)
		return -ENOENT;
	fputs(h->text, f);
	return 0;
}

int help_requested(int argc, char **argv)
{
	const char *cmd = NULL, *sub = NULL;
	int i, found = 0;

	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			found = 1;
	if (!found)
		return 0;
	if (argc && argv[0][0] != '-')
		cmd = argv[0];
	/* The subcommand: the first later word that is one of cmd's, so that
	 * `ward volume --cp-dir D attach --help` finds attach. */
	for (i = 1; cmd && i < argc && !sub; i++)
		if (argv[i][0] != '-' && find(cmd, argv[i]))
			sub = argv[i];
	if (help_print(stdout, cmd, sub)) {
		fprintf(stderr, "ward: unknown command '%s'\nTry 'ward --help'.\n", cmd);
		return -1;
	}
	return 1;
}

int help_usage_error(const char *cmd, const char *sub, const char *why)
{
	if (why)
		fprintf(stderr, "ward: %s\n", why);
	if (help_print(stderr, cmd, sub))
		help_print(stderr, NULL, NULL);
	return WARD_EXIT_USAGE;
}
