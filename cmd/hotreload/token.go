package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/admin/auth"
)

func init() { register(newTokenCmd) }

func newTokenCmd() *cobra.Command {
	var authFile string
	cmd := &cobra.Command{
		Use:   "token add|list|revoke",
		Short: "Manage the admin API's tokens in an auth file",
		Long: `token manages the bearer tokens of the admin API. The auth file holds, for
each token, a name, a role and the SHA-256 of the token; the token itself is
printed once by "token add" and stored nowhere. The running daemon picks up
every change of the file without a restart.

Roles: viewer reads (status, config, history, health, events, metrics);
operator also reloads, patches, rolls back and controls plugins; admin also
reads the audit log and the debug endpoints.`,
		Example: `  hotreload token add --auth-file /etc/hotreload/tokens.json --role operator --name ci
  hotreload token list --auth-file /etc/hotreload/tokens.json
  hotreload token revoke --auth-file /etc/hotreload/tokens.json ci`,
	}
	cmd.PersistentFlags().StringVar(&authFile, "auth-file", "", "the auth file (created 0600 when missing)")
	_ = cmd.MarkPersistentFlagRequired("auth-file")

	var role, name string
	add := &cobra.Command{
		Use:   "add --auth-file FILE --role ROLE [--name NAME]",
		Short: "Create a token and print it once, alone on standard output",
		Long: `add creates a random 256-bit token with a role, stores only its SHA-256 in
the auth file (replaced atomically, mode 0600) and prints the token, alone
on standard output, once: keep it, it cannot be shown again.`,
		Example: `  TOKEN=$(hotreload token add --auth-file tokens.json --role admin --name alice)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			tok, err := auth.Add(authFile, name, r)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "viewer, operator or admin")
	add.Flags().StringVar(&name, "name", "", "a name for the token (default: ROLE-random)")
	_ = add.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:     "list --auth-file FILE",
		Short:   "List the tokens' names, roles and creation times",
		Long:    "list prints every token of the auth file: its name, role, creation time and the start of its hash (the token itself is not stored).",
		Example: `  hotreload token list --auth-file tokens.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := auth.ReadFile(authFile)
			if err != nil {
				return err
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tSHA256")
			for _, t := range f.Tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Created.Local().Format(time.DateTime), abbrev(t.SHA256))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:     "revoke --auth-file FILE NAME",
		Short:   "Remove a token; the daemon refuses it from its next read of the file",
		Long:    "revoke removes the named token from the auth file (replaced atomically). The running daemon re-reads the file when it changes, so the token stops working within moments, without a restart.",
		Example: `  hotreload token revoke --auth-file tokens.json ci`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := auth.Revoke(authFile, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}
