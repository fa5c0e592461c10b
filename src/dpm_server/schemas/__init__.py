"""The API's request and response models: the Create/Update/Public variants of the shared resource vocabulary."""
