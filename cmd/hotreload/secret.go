package main

import (
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/secret"
)

func init() { register(newSecretCmd) }

func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret keygen|encrypt|rotate",
		Short: "Encrypt config values with age and manage the keys",
		Long: `secret manages encrypted config values. A value written as ENC[age:...] in a
config file is decrypted in memory when the daemon loads the file, with the
identity given by --age-identity or $` + secret.IdentityEnv + `; it is
redacted in every API answer, log line, event, diff and audit record, and
history keeps only the encrypted form.`,
		Example: `  hotreload secret keygen --out /etc/hotreload/age.key
  printf '%s' "$DB_PASSWORD" | hotreload secret encrypt --recipient age1...
  hotreload secret rotate --identity old.key --recipient age1new... --verify-identity new.key config.yaml`,
	}

	var out string
	keygen := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Write a new identity (mode 0600) and print its recipient",
		Long: `keygen creates an age X25519 identity in FILE, which must not exist, with
mode 0600, and prints its public recipient (age1...) on standard output.
Encrypt values to the recipient; give the file to the daemon.`,
		Example: `  hotreload secret keygen --out /etc/hotreload/age.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := secret.Keygen(out)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), r)
			return nil
		},
	}
	keygen.Flags().StringVar(&out, "out", "", "the identity file to create")
	_ = keygen.MarkFlagRequired("out")

	var recipients []string
	encrypt := &cobra.Command{
		Use:   "encrypt --recipient R...",
		Short: "Encrypt standard input and print the ENC[age:...] value",
		Long: `encrypt reads a value on standard input (a final newline is dropped) and
prints it encrypted to every recipient as ENC[age:...], ready to paste into a
config file.`,
		Example: `  printf '%s' "$DB_PASSWORD" | hotreload secret encrypt --recipient age1...`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := secret.ParseRecipients(recipients)
			if err != nil {
				return err
			}
			in, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			if err != nil {
				return fmt.Errorf("reading the value: %w", err)
			}
			v, err := secret.Encrypt([]byte(strings.TrimSuffix(string(in), "\n")), rs...)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	}
	encrypt.Flags().StringArrayVar(&recipients, "recipient", nil, "an age recipient (repeatable)")
	_ = encrypt.MarkFlagRequired("recipient")

	var identity string
	var verify []string
	rotate := &cobra.Command{
		Use:   "rotate --identity FILE --recipient R... [--verify-identity FILE]... CONFIG...",
		Short: "Re-encrypt every ENC[age:...] value of config files to new recipients",
		Long: `rotate decrypts every encrypted value of each config file with --identity,
encrypts it again to the --recipient list, checks that every new value
decrypts to the same plaintext (with --identity, or with the new identities
given by --verify-identity), and only then replaces the file atomically,
keeping its mode. A file that fails any step is left untouched. The daemon
reloads the rotated file like any other change.`,
		Example: `  # move from old.key to new.key
  hotreload secret keygen --out new.key
  hotreload secret rotate --identity old.key --recipient "$(grep -o 'age1.*' new.key)" \
    --verify-identity new.key config.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ids, err := secret.LoadIdentities(identity)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return fmt.Errorf("no identity: give --identity or $%s", secret.IdentityEnv)
			}
			rs, err := secret.ParseRecipients(recipients)
			if err != nil {
				return err
			}
			var check []age.Identity
			for _, v := range verify {
				more, err := secret.LoadIdentities(v)
				if err != nil {
					return err
				}
				check = append(check, more...)
			}
			for _, f := range files {
				n, err := secret.Rotate(f, ids, rs, check)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: re-encrypted %d values\n", f, n)
			}
			return nil
		},
	}
	rotate.Flags().StringVar(&identity, "identity", "", "the current identity file (default $"+secret.IdentityEnv+")")
	rotate.Flags().StringArrayVar(&recipients, "recipient", nil, "a new recipient (repeatable)")
	rotate.Flags().StringArrayVar(&verify, "verify-identity", nil, "an identity of the new recipients, to check the result (repeatable)")
	_ = rotate.MarkFlagRequired("recipient")

	cmd.AddCommand(keygen, encrypt, rotate)
	return cmd
}
