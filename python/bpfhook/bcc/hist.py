"""Histogram text in BCC's layout: `print_log2_hist` and `print_linear_hist` print these
columns, widths and bars, so tools' output reads (and diffs) the same."""

BAR_WIDTH = 40


def bar(count, largest, width):
    """`count` scaled to `width` stars (BCC's ceiling-like rounding); a count over the
    largest ends in '+'."""
    stars = 0
    while stars < width and stars <= width * count / largest - 1:
        stars += 1
    text = "*" * stars
    if count > largest:
        text = text[:-1] + "+"
    return text


def _extent(counts):
    """(index of the last non-zero slot or -1, largest count)."""
    last = -1
    largest = 0
    for index, count in enumerate(counts):
        if count > 0:
            last = index
        largest = max(largest, count)
    return last, largest


def print_log2_hist_values(counts, val_type="value", strip_leading_zero=False):
    """Slot i counts values in [2^(i-1), 2^i - 1] (slot 1 is 0 -> 1)."""
    last, largest = _extent(counts)
    if last <= 32:
        header = "     %-19s : count     distribution"
        row = "%10d -> %-10d : %-8d |%-*s|"
        width = BAR_WIDTH
    else:
        header = "               %-29s : count     distribution"
        row = "%20d -> %-20d : %-8d |%-*s|"
        width = BAR_WIDTH // 2
    if last > 0:
        print(header % val_type)
    skipping = bool(strip_leading_zero)
    for slot in range(1, last + 1):
        low, high = (1 << slot) >> 1, (1 << slot) - 1
        if low == high:
            low -= 1
        count = counts[slot]
        if skipping and not count:
            continue
        skipping = False
        print(row % (low, high, count, width, bar(count, largest, width)))


def print_linear_hist_values(counts, val_type="value", strip_leading_zero=False):
    """Slot i counts the value i."""
    last, largest = _extent(counts)
    if last >= 0:
        print("     %-13s : count     distribution" % val_type)
    skipping = bool(strip_leading_zero)
    for slot in range(0, last + 1):
        count = counts[slot]
        if skipping and not count:
            continue
        skipping = False
        print("        %-10d : %-8d |%-*s|" % (slot, count, BAR_WIDTH, bar(count, largest, BAR_WIDTH)))
