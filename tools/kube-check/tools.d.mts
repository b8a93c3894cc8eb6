/** Types of tools.mjs (helm and kube-check, built through the Go module proxy and cached). */
export declare const HELM_VERSION: string;
/** The arguments every `helm template` of the chart checks gets. */
export declare const RENDER_ARGS: readonly string[];
/** kube-check's flags for the chart's renders. */
export declare const KUBE_CHECK_ARGS: readonly string[];
/** A Go 1.21+ `go` binary: $GO, PATH, /usr/local/go/bin/go, else the toolchain module from the proxy. */
export declare function findGo(): Promise<string>;
export declare function downloadGo(): Promise<string>;
/** Path of a helm binary ($HELM, or the cached build of HELM_VERSION). */
export declare function ensureHelm(): Promise<string>;
/** Path of the kube-check binary built from this folder's sources. */
export declare function ensureKubeCheck(): Promise<string>;
