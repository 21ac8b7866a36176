"""The Kie.ai Market API client: typed errors, typed responses, one pooled HTTP client."""
