"""The resource vocabulary shared by the compiler and the registry server."""
