"""Stand-in for `huggingface_hub.utils` (see __init__.py): the exception names accelerate imports."""


class GatedRepoError(Exception):
    pass


class RepositoryNotFoundError(Exception):
    pass
