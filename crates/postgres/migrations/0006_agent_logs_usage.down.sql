DROP TABLE token_usage;
DROP TABLE agent_logs;
