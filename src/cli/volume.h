/* volume: `ward volume create|attach|detach|list`, the control-plane side
 * of encrypted volumes (docs/attach.md), for now a component of the CLI. */
#ifndef WARD_CLI_VOLUME_H
#define WARD_CLI_VOLUME_H

/* url/cert/key/ca: the controller API and the control-plane client
 * certificate (ward's global options). */
int volume_cmd(const char *url, const char *cert, const char *key, const char *ca, int argc,
	       char **argv);

#endif
