// tlogcheck verifies an Encore log directory with golang.org/x/mod/sumdb/tlog and note, code
// written independently of Encore: the checkpoint signature, the root recomputed from the C2SP
// tiles, an inclusion proof from a tlog-proof file, and consistency proofs to an older
// checkpoint (Go's own and one built by Encore).
//
// Usage: tlogcheck DIR VKEY OLD_CHECKPOINT PROOF CONSISTENCY
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tiles reads C2SP tiles: Go names them tile/8/L/N[.p/W], C2SP drops the height.
type tiles struct{ dir string }

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		p := strings.TrimPrefix(tile.Path(), "tile/8/")
		data, err := os.ReadFile(filepath.Join(t.dir, "tile", p))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func openCheckpoint(data []byte, v note.Verifier) (string, tlog.Tree) {
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint text too short")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("root: %v", err)
	}
	return lines[0], tlog.Tree{N: size, Hash: h}
}

func main() {
	if len(os.Args) != 6 {
		fail("usage: tlogcheck DIR VKEY OLD_CHECKPOINT PROOF CONSISTENCY")
	}
	dir := os.Args[1]
	verifier, err := note.NewVerifier(strings.TrimSpace(os.Args[2]))
	if err != nil {
		fail("vkey: %v", err)
	}
	cp, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	origin, tree := openCheckpoint(cp, verifier)
	if origin != verifier.Name() {
		fail("origin %q is not the key name", origin)
	}
	thr := tlog.TileHashReader(tree, tiles{dir})
	root, err := tlog.TreeHash(tree.N, thr)
	if err != nil {
		fail("tree hash from tiles: %v", err)
	}
	if root != tree.Hash {
		fail("root from tiles %v != checkpoint %v", root, tree.Hash)
	}
	fmt.Printf("checkpoint ok: %s size %d root %v\n", origin, tree.N, root)

	// Inclusion: the tlog-proof file.
	pf, err := os.ReadFile(os.Args[4])
	if err != nil {
		fail("%v", err)
	}
	parts := bytes.SplitN(pf, []byte("\n\n"), 2)
	lines := strings.Split(string(parts[0]), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") {
		fail("proof header")
	}
	entry, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	if err != nil {
		fail("extra: %v", err)
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
	if err != nil {
		fail("index: %v", err)
	}
	var rp tlog.RecordProof
	for _, l := range lines[3:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			fail("proof hash: %v", err)
		}
		rp = append(rp, h)
	}
	if _, ptree := openCheckpoint(parts[1], verifier); ptree != tree {
		fail("proof checkpoint differs from the log's")
	}
	if err := tlog.CheckRecord(rp, tree.N, tree.Hash, index, tlog.RecordHash(entry)); err != nil {
		fail("inclusion proof from Encore: %v", err)
	}
	gp, err := tlog.ProveRecord(tree.N, index, thr)
	if err != nil {
		fail("ProveRecord: %v", err)
	}
	if len(gp) != len(rp) {
		fail("Go's inclusion proof has %d hashes, Encore's %d", len(gp), len(rp))
	}
	for i := range gp {
		if gp[i] != rp[i] {
			fail("inclusion proof hash %d differs", i)
		}
	}
	fmt.Printf("inclusion ok: entry %d\n", index)

	// Consistency with the older checkpoint.
	old, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("%v", err)
	}
	_, oldTree := openCheckpoint(old, verifier)
	tp, err := tlog.ProveTree(tree.N, oldTree.N, thr)
	if err != nil {
		fail("ProveTree: %v", err)
	}
	if err := tlog.CheckTree(tp, tree.N, tree.Hash, oldTree.N, oldTree.Hash); err != nil {
		fail("Go consistency proof: %v", err)
	}
	cf, err := os.ReadFile(os.Args[5])
	if err != nil {
		fail("%v", err)
	}
	var ours tlog.TreeProof
	for _, l := range strings.Fields(string(cf)) {
		h, err := tlog.ParseHash(l)
		if err != nil {
			fail("consistency hash: %v", err)
		}
		ours = append(ours, h)
	}
	if err := tlog.CheckTree(ours, tree.N, tree.Hash, oldTree.N, oldTree.Hash); err != nil {
		fail("Encore consistency proof: %v", err)
	}
	fmt.Printf("consistency ok: %d -> %d\n", oldTree.N, tree.N)
	fmt.Println("ALL OK")
}
