"""Stream brokers: Redis Streams."""
