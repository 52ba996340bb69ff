package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/sysmaster-go/sysmaster/board"
)

// boardInfo is one line of `smimage boards`, and one object of its --json.
type boardInfo struct {
	Name        string   `json:"name"`
	Arch        string   `json:"arch"`
	GOARM       string   `json:"goarm,omitempty"`
	DebianArch  string   `json:"debian_arch"`
	Formats     []string `json:"formats"`
	Inherit     string   `json:"inherit,omitempty"`
	Description string   `json:"description"`
}

func newBoardInfo(b *board.Board) boardInfo {
	return boardInfo{
		Name:        b.Name,
		Arch:        b.Arch,
		GOARM:       b.GOARM,
		DebianArch:  b.DebianArch,
		Formats:     boardFormats(b),
		Inherit:     b.Inherit,
		Description: b.Description,
	}
}

// boardFormats lists the output formats b produces.
func boardFormats(*board.Board) []string {
	return []string{"cpio"}
}

// archLabel is the board's GOARCH, with the GOARM level for 32-bit arm.
func (i boardInfo) archLabel() string {
	if i.GOARM != "" {
		return i.Arch + "v" + i.GOARM
	}
	return i.Arch
}

func cmdBoards(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("boards", stderr)
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := parse(fs, args); err != nil {
		return err
	}
	names := fs.Args()
	if len(names) == 0 {
		names = board.Names()
	}
	infos := make([]boardInfo, 0, len(names))
	for _, n := range names {
		b, err := board.Load(n)
		if err != nil {
			return err
		}
		infos = append(infos, newBoardInfo(b))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARCH\tFORMATS\tDESCRIPTION")
	for _, i := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Name, i.archLabel(), strings.Join(i.Formats, ","), i.Description)
	}
	return tw.Flush()
}
