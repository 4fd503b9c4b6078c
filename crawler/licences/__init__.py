"""Publication licences (出版物经营许可证): parsing, validation, register checks, findings."""
