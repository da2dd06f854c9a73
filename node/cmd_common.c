/*
 * What the node's commands share: the configuration they read and the
 * paths in its state directory; see node.h.
 */
#include <stdio.h>

#include "common/cmd.h"
#include "common/daemon.h"
#include "nodeconf/nodeconf.h"
#include "node.h"

int
node_config_read(const char *prog, const char *file,
    struct node_config **out)
{
	char err[1024];

	if (config_load(file ? file : CONFIG_DEFAULT_PATH, file == NULL, out,
	    err, sizeof(err)) != 0)
		return cmd_fail(prog, "%s", err);
	return 0;
}

int
node_state_path(const char *prog, const char *file, const char *name,
    char *path, size_t len)
{
	struct node_config *cfg;
	int rc;

	if (node_config_read(prog, file, &cfg) != 0)
		return 1;
	if ((rc = daemon_path(path, len, cfg->state_dir, name)) != 0)
		cmd_fail(prog, "%s/%s: path too long", cfg->state_dir, name);
	config_free(cfg);
	return rc == 0 ? 0 : 1;
}
