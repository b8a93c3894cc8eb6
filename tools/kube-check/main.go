// kube-check validates rendered Kubernetes manifests offline, the way an API server and its Pod
// Security admission would see them, without a cluster:
//
//   - every document is decoded strictly into Kubernetes' own Go API types (k8s.io/api, and the
//     Prometheus Operator's monitoring.coreos.com/v1 types): an unknown, misplaced, duplicated or
//     mistyped field, or a kind no registered API group defines, is a problem;
//   - every built-in object is defaulted, converted and validated with the API server's own code
//     (k8s.io/kubernetes/pkg/apis/*/validation, validation.go), as a create request would be;
//   - every pod (Pods, and the pod templates of Deployments, StatefulSets, DaemonSets, Jobs,
//     CronJobs) is evaluated against a Pod Security Standards level (default "restricted") with
//     k8s.io/pod-security-admission's own checks;
//   - the references an API server or kubelet would trip over later are checked across the objects
//     (references.go): names, selectors, volume mounts, named ports, $(VAR) expansions, service
//     accounts.
//
// Usage: kube-check [-level restricted] [-read-only-root] [-no-token] [-namespace NS] [FILE...]
// (stdin without FILEs)
// Prints one JSON report on stdout and exits 0 when there is no problem, 1 when there are, 2 when
// the input cannot be read.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/util/yaml"
	psapi "k8s.io/pod-security-admission/api"
)

// Report is what kube-check prints: the objects it decoded and every problem it found.
type Report struct {
	Objects  []ObjectSummary `json:"objects"`
	Pods     int             `json:"pods"`
	Level    string          `json:"level"`
	Problems []string        `json:"problems"`
}

// ObjectSummary names one decoded object.
type ObjectSummary struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func main() {
	level := flag.String("level", "restricted", "Pod Security Standards level every pod must pass: privileged | baseline | restricted")
	readOnlyRoot := flag.Bool("read-only-root", false, "also require readOnlyRootFilesystem: true on every container")
	noToken := flag.Bool("no-token", false, "also require that no pod mounts a service account token")
	namespace := flag.String("namespace", "default", "namespace of objects that name none (as the API server takes it from the request)")
	flag.Parse()

	lvl, err := psapi.ParseLevel(*level)
	if err != nil {
		fail(err)
	}
	docs, err := readDocuments(flag.Args())
	if err != nil {
		fail(err)
	}
	c := newChecker(psapi.LevelVersion{Level: lvl, Version: psapi.LatestVersion()}, policyOptions{
		readOnlyRoot: *readOnlyRoot,
		noToken:      *noToken,
		namespace:    *namespace,
	})
	for _, d := range docs {
		c.add(d)
	}
	c.checkReferences()

	report := Report{Objects: c.summaries, Pods: len(c.pods), Level: string(lvl), Problems: c.problems}
	if report.Objects == nil {
		report.Objects = []ObjectSummary{}
	}
	if report.Problems == nil {
		report.Problems = []string{}
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(report); err != nil {
		fail(err)
	}
	if len(report.Problems) > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "kube-check: %v\n", err)
	os.Exit(2)
}

// document is one YAML document of the input and where it came from.
type document struct {
	source string
	index  int
	data   []byte
}

func readDocuments(files []string) ([]document, error) {
	if len(files) == 0 {
		return split("stdin", os.Stdin)
	}
	var all []document
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		docs, err := split(f, fh)
		fh.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, docs...)
	}
	return all, nil
}

// split cuts a multi-document YAML stream at its `---` lines, dropping empty documents (helm
// template prints one per skipped template).
func split(source string, r io.Reader) ([]document, error) {
	reader := yaml.NewYAMLReader(bufio.NewReader(r))
	var docs []document
	for i := 0; ; i++ {
		data, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if len(bytes.TrimSpace(stripComments(data))) == 0 {
			continue
		}
		docs = append(docs, document{source: source, index: i, data: data})
	}
}

// stripComments drops whole-line YAML comments (helm's "# Source: ..." headers).
func stripComments(data []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '#' {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}
