"""Write .env from .env.example with fresh secrets, or add the secrets an older .env lacks. Never overwrites a value."""

import secrets
import sys
from pathlib import Path

# token_urlsafe: letters, digits, - and _ only, safe anywhere (a URL, a shell, Compose interpolation).
GENERATED = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_SALT_KEYS": lambda: secrets.token_urlsafe(16),
    "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(24),
}


def main(folder: Path) -> None:
    env_file = folder / ".env"
    created = not env_file.exists()
    if created:
        env_file.touch(mode=0o600)
        lines = (folder / ".env.example").read_text().splitlines()
    else:
        lines = env_file.read_text().splitlines()
    filled = []
    for index, line in enumerate(lines):
        key, _, value = line.partition("=")
        if key in GENERATED and not value.strip():
            lines[index] = f"{key}={GENERATED[key]()}"
            filled.append(key)
    present = {line.partition("=")[0] for line in lines}
    for key in GENERATED:
        if key not in present:
            lines.append(f"{key}={GENERATED[key]()}")
            filled.append(key)
    if created or filled:
        env_file.write_text("\n".join(lines) + "\n")
        print(".env created with fresh secrets" if created else f".env: generated {', '.join(filled)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
