"""Payment service core: domain model, use cases, adapters and the composition root."""
