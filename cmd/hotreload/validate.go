package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
)

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var (
		schemaFile string
		strict     bool
		merge      bool
		limits     config.Limits
	)
	cmd := &cobra.Command{
		Use:   "validate [--schema FILE] [--strict] [--merge] FILE...",
		Short: "Check config files and print every problem as FILE:LINE:COL: /path: message",
		Long: `validate decodes each config file (JSON, YAML or TOML, by extension), fills
the schema's defaults and validates it against the JSON Schema given with
--schema. With --merge the files are layers of one config instead, merged in
order as serve does with several --config files (a later file overrides an
earlier one), and the merged result is validated.

Every problem is printed on standard output as one line naming the file, the
line, the column and the JSON Pointer of the value:

  app.yaml:7:12: /limits/rps: must be >= 1 but found 0

Exit status: 0 when the files are valid, 1 when they are not (or cannot be
read), 2 for a usage error, 130 when interrupted (SIGINT or SIGTERM stop it at
once, even in the middle of a large file).`,
		Example: `  # check one file against its schema
  hotreload validate --schema schema.json config.yaml

  # check every config of a directory
  hotreload validate --schema schema.json configs/*.yaml

  # check a base file with its production overrides, rejecting unknown keys
  hotreload validate --schema schema.json --strict --merge base.yaml prod.toml`,
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "hotreload validate: no config file given\n\nUsage:\n  "+cmd.UseLine())
				return exitError{2}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			for _, f := range files {
				if _, err := config.FormatOf(f); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "hotreload validate:", err)
					return exitError{2}
				}
			}
			layers := [][]string{files}
			if !merge {
				layers = layers[:0]
				for _, f := range files {
					layers = append(layers, []string{f})
				}
			}
			// A decode does not look at ctx: on a signal the command
			// returns at once and leaves it behind.
			done := make(chan []hotreload.FieldError, 1)
			go func() { done <- validateFiles(ctx, schemaFile, strict, limits, layers) }()
			var problems []hotreload.FieldError
			select {
			case problems = <-done:
			case <-ctx.Done():
				fmt.Fprintln(cmd.ErrOrStderr(), "hotreload validate: interrupted")
				return exitError{130}
			}
			for _, p := range problems {
				fmt.Fprintln(cmd.OutOrStdout(), p.String())
			}
			if len(problems) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaFile, "schema", "", "JSON Schema (2020-12) the merged config must match")
	cmd.Flags().BoolVar(&strict, "strict", false, "reject keys the schema does not declare, as serve --mode prod does")
	cmd.Flags().BoolVar(&merge, "merge", false, "validate the files as layers of one config, merged in order")
	addLimitFlags(cmd.Flags(), &limits)
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "hotreload validate: %v\n\nUsage:\n  %s\n", err, cmd.UseLine())
		return exitError{2}
	})
	return cmd
}

// validateFiles returns the problems of the schema, or else of each config
// (a list of files merged in order).
func validateFiles(ctx context.Context, schemaFile string, strict bool, limits config.Limits, configs [][]string) []hotreload.FieldError {
	var schema *config.Schema
	if schemaFile != "" {
		s, err := config.LoadSchema(schemaFile)
		if err != nil {
			return problemsOf(err, schemaFile)
		}
		schema = s
	}
	var problems []hotreload.FieldError
	for _, files := range configs {
		target, err := config.NewTarget(config.Options[any]{Files: files, Schema: schema, Strict: strict, ReadOnlyFiles: true, Limits: limits})
		if err != nil {
			problems = append(problems, problemsOf(err, files[0])...)
			continue
		}
		ch, err := target.Prepare(ctx, hotreload.Candidate{})
		if err != nil {
			problems = append(problems, problemsOf(err, files[0])...)
		} else {
			_ = ch.Rollback(ctx) // discards the prepared config; never fails
		}
		target.Close()
	}
	return problems
}

// problemsOf returns err's located problems, or err itself as a problem of
// file when it has none.
func problemsOf(err error, file string) []hotreload.FieldError {
	if d := hotreload.ErrorDetails(err); len(d) > 0 {
		return d
	}
	return []hotreload.FieldError{{File: file, Message: err.Error()}}
}
