def main(num: int) -> int:
    return num + 1
