package main

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	"k8s.io/kubernetes/pkg/apis/batch"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	batchvalidation "k8s.io/kubernetes/pkg/apis/batch/validation"
	"k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/apis/networking"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	networkingvalidation "k8s.io/kubernetes/pkg/apis/networking/validation"
	"k8s.io/kubernetes/pkg/apis/policy"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	policyvalidation "k8s.io/kubernetes/pkg/apis/policy/validation"
)

// validateAsAPIServer runs what the API server runs on a create: the object's defaults, conversion
// to the internal version, and the kind's validation from k8s.io/kubernetes (required fields,
// ranges, names, selectors against templates, probe handlers, port names, resource quantities).
// Kinds outside the built-in groups (the Prometheus Operator's) are left to strict decoding.
// Returns false when the kind has no built-in validation here.
func (c *checker) validateAsAPIServer(where string, gvk schema.GroupVersionKind, obj runtime.Object) bool {
	if !legacyscheme.Scheme.Recognizes(gvk) {
		return false
	}
	cp := obj.DeepCopyObject()
	// The API server takes the namespace from the request when the manifest has none.
	if m, ok := cp.(metav1.Object); ok && m.GetNamespace() == "" {
		m.SetNamespace(c.namespace)
	}
	legacyscheme.Scheme.Default(cp)
	internal, err := legacyscheme.Scheme.ConvertToVersion(cp, schema.GroupVersion{Group: gvk.Group, Version: runtime.APIVersionInternal})
	if err != nil {
		c.problem(where, "converting to the internal version: %v", err)
		return true
	}
	pod := corevalidation.PodValidationOptions{}
	var errs field.ErrorList
	switch o := internal.(type) {
	case *core.Pod:
		errs = corevalidation.ValidatePodCreate(o, pod)
	case *core.Service:
		// The service registry's PrepareForCreate copies clusterIP into clusterIPs before validating.
		if len(o.Spec.ClusterIPs) == 0 && o.Spec.ClusterIP != "" {
			o.Spec.ClusterIPs = []string{o.Spec.ClusterIP}
		}
		errs = corevalidation.ValidateService(o)
	case *core.ServiceAccount:
		errs = corevalidation.ValidateServiceAccount(o)
	case *core.ConfigMap:
		errs = corevalidation.ValidateConfigMap(o)
	case *core.Secret:
		errs = corevalidation.ValidateSecret(o)
	case *apps.Deployment:
		errs = appsvalidation.ValidateDeployment(o, pod)
	case *apps.StatefulSet:
		errs = appsvalidation.ValidateStatefulSet(o, pod)
		// A StatefulSet's create validation leaves its pod spec out: the controller's pod creates
		// would be refused later. Validate the first pod as the API server will.
		errs = append(errs, c.validateStatefulSetPod(o, pod)...)
	case *apps.DaemonSet:
		errs = appsvalidation.ValidateDaemonSet(o, pod)
	case *batch.Job:
		errs = batchvalidation.ValidateJob(o, batchvalidation.JobValidationOptions{PodValidationOptions: pod})
	case *batch.CronJob:
		errs = batchvalidation.ValidateCronJobCreate(o, pod)
	case *networking.NetworkPolicy:
		errs = networkingvalidation.ValidateNetworkPolicy(o, networkingvalidation.NetworkPolicyValidationOptions{})
	case *policy.PodDisruptionBudget:
		errs = policyvalidation.ValidatePodDisruptionBudget(o, policyvalidation.PodDisruptionBudgetValidationOptions{})
	default:
		c.problem(where, "kube-check has no API server validation for %s: add it to validation.go", gvk.Kind)
		return true
	}
	for _, e := range errs {
		c.problem(where, "API server validation: %v", e)
	}
	return true
}

// validateStatefulSetPod validates the pod <name>-0 a StatefulSet's controller creates.
func (c *checker) validateStatefulSetPod(s *apps.StatefulSet, opts corevalidation.PodValidationOptions) field.ErrorList {
	pod := &core.Pod{ObjectMeta: *s.Spec.Template.ObjectMeta.DeepCopy(), Spec: *s.Spec.Template.Spec.DeepCopy()}
	pod.Name = s.Name + "-0"
	pod.Namespace = s.Namespace
	var errs field.ErrorList
	for _, e := range corevalidation.ValidatePodCreate(pod, opts) {
		e.Field = "pod " + pod.Name + ": " + e.Field
		errs = append(errs, e)
	}
	return errs
}
