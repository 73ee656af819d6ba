"""The engine turns attempt specs into recorded responses. It knows nothing about politics
or code: only targets, requests, retries, the cache and the store."""
