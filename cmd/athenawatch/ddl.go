package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/lake"
	"github.com/athenawatch/athenawatch/internal/store"
)

func runDDL(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "ddl", "[--location s3://BUCKET/PREFIX] [--trail s3://BUCKET/PREFIX[/AWSLogs/o-ORGID]]")
	location := fs.String("location", "", "the export's `s3://BUCKET/PREFIX` (its --to)")
	trail := fs.String("trail", "", "the trail's `s3://BUCKET/PREFIX` (default: the first s3:// source in the config); end it with /AWSLogs/o-ORGID for an organization trail")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(g.config)
	if err != nil {
		return err
	}
	o := lake.DDLOptions{Location: *location, Trail: *trail}
	if o.Trail == "" {
		for _, s := range cfg.Sources {
			if strings.HasPrefix(s, "s3://") {
				o.Trail, _, _ = strings.Cut(s, "?")
				break
			}
		}
	}
	// The accounts and regions to project: those collected, when there
	// is a database, and the accounts the config names.
	st, err := store.OpenReadOnly(ctx, g.db)
	switch {
	case err == nil:
		defer st.Close()
		if o.Accounts, o.Regions, o.From, err = st.TrailSpan(ctx); err != nil {
			return err
		}
	case errors.Is(err, store.ErrNoDatabase):
	default:
		return err
	}
	o.Accounts = append(o.Accounts, slices.Sorted(maps.Keys(cfg.Roles()))...)
	text, err := lake.DDL(o)
	if err != nil {
		return usagef("%v", err)
	}
	_, err = fmt.Fprint(g.stdout, text)
	return err
}
