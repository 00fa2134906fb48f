/* cli.h - the subcommands of the hudong binary. Each takes the arguments after
 * its own name (argv[0] is the subcommand) and returns the process exit code:
 * 0 success, 1 failure while working, 2 bad usage or bad input. */
#ifndef HD_CLI_H
#define HD_CLI_H

/* hudong analyze clv|rfm ... (src/cli/analyze_orders.c) */
int hd_cli_analyze_orders(int argc, char **argv);
/* hudong analyze rules|itemsets ... (src/cli/analyze_baskets.c) */
int hd_cli_analyze_baskets(int argc, char **argv);

#endif
