/* enclave: `ward enclave build|describe-eif` (nitro-cli's image commands)
 * and `ward attestation verify`, for now components of the CLI
 * (docs/enclaves.md). Offline: neither talks to a host. */
#ifndef WARD_CLI_ENCLAVE_H
#define WARD_CLI_ENCLAVE_H

int enclave_cmd(int argc, char **argv);
int attestation_cmd(int argc, char **argv);

#endif
