// Command topicctl is the command-line tool for topicd: it classifies documents and lists models
// over gRPC, runs batch jobs over many documents and replicas, and trains and evaluates models
// locally.
//
// Usage:
//
//	topicctl classify [--server ADDR] [--json] [--top-k N] [--explain] [TEXT | --file F | -]
//	topicctl models   [--server ADDR] [--json]
//	topicctl batch    --in FILE|DIR|- [--out FILE] [--server ADDRS] [--resume] [--ordered] ...
//	topicctl train    --data FILE.jsonl --out MODEL
//	topicctl eval     --model MODEL --data FILE.jsonl
//
// Run `topicctl COMMAND --help` for the flags of one command. Commands that talk to a server share
// the connection flags --server, --tls-ca, --tls-cert, --tls-key, --tls-server-name and
// --insecure; without --tls-ca the connection is plaintext.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command runs one subcommand. args excludes the command name. Errors are printed by main;
// flag.ErrHelp means the usage was already printed.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// commands maps a subcommand name to its implementation.
var commands = map[string]command{
	"classify": runClassify,
	"models":   runModels,
	"batch":    runBatch,
	// Local model work, in train.go and eval.go.
	"train": runTrain,
	"eval":  runEval,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "topicctl:", err)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run dispatches to the subcommand named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return flag.ErrHelp
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: topicctl COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintln(w, "  "+name)
	}
	fmt.Fprintln(w, "\nRun `topicctl COMMAND --help` for the flags of one command.")
}
