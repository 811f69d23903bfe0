"""Generates tests/data/polymarket_events.json and manifold_markets.json (see SOURCE.md)."""
import json

NOON_ABOVE = ('This market will resolve to "Yes" if the Binance 1 minute candle for BTC/USDT 12:00 in the ET '
              'timezone (noon) on the date specified in the title has a final "Close" price higher than the price '
              'specified in the title. Otherwise, this market will resolve to "No".\n\nThe resolution source for '
              'this market is Binance, specifically the BTC/USDT "Close" prices currently available at '
              'https://www.binance.com/en/trade/BTC_USDT with "1m" and "Candles" selected on the top bar.\n\n'
              'Please note that this market is about the price according to Binance BTC/USDT, not according to '
              'other exchanges or trading pairs.\n\nPrice precision is determined by the number of decimal places '
              'in the source.')
NOON_BUCKET = ('This market will resolve to the range that contains the final "Close" price of the Binance 1 minute '
               'candle for BTC/USDT 12:00 in the ET timezone (noon) on the date specified in the title. '
               'Otherwise, this market will resolve to "No".\n\nThe resolution source for this market is Binance, '
               'specifically the BTC/USDT "Close" prices currently available at https://www.binance.com/en/trade/BTC_USDT.')
DAILY_UPDOWN = ('This market will resolve to "Up" if the close price for the Binance 1 minute candle for BTC/USDT '
                '12:00 in the ET timezone (noon) on the date specified in the title is higher than or equal to the '
                'close price for the Binance 1 minute candle for BTC/USDT 12:00 in the ET timezone (noon) on the '
                'previous day. Otherwise, this market will resolve to "Down".')
HOURLY_UPDOWN = ('This market will resolve to "Up" if the close price is greater than or equal to the open price '
                 'for the BTC/USDT 1 hour candle that begins on the time and date specified in the title. Otherwise, '
                 'this market will resolve to "Down". The close and open displayed for the relevant candle will be '
                 'used once the data for that candle is finalized. This market is about the Binance pair, not '
                 'according to other exchanges or trading pairs.')
FOURH_UPDOWN = ('This market will resolve to "Up" if the time-weighted average price (TWAP) of Bitcoin, generated '
                'by Chainlink, of the time range specified in the title is greater than or equal to the price at the '
                'beginning of that range. Otherwise, this market will resolve to "Down".')
TOUCH = ('This market will immediately resolve to "Yes" if any Binance 1 minute candle for BTC/USDT during the month '
         'specified in the title (ET timezone) has a final "High" price equal to or greater than the price specified '
         'in the title. Otherwise, this market will resolve to "No".')
TOUCH_DOWN = TOUCH.replace('"High" price equal to or greater', '"Low" price equal to or lower')
TOUCH_BY = ('This market will immediately resolve to "Yes" if any Binance 1 minute candle for Bitcoin (BTC/USDT) '
            'between November 24, 2024, 14:00 and December 31, 2025, 23:59 in the ET timezone has a final "High" '
            'price equal to or greater than the price specified in the title. Otherwise, this market will resolve '
            'to "No."')

_n = [600000]


def market(question, *, end, start="2025-02-20T17:00:00Z", description="", outcomes=("Yes", "No"), prices=("0.5", "0.5"),
           group="", neg_risk=False, closed=False, uma="[]"):
    _n[0] += 1
    i = _n[0]
    return {
        "id": str(i), "question": question, "conditionId": "0x" + f"{i:064x}", "slug": question.lower()[:40].replace(" ", "-"),
        "resolutionSource": "", "endDate": end, "startDate": start, "description": description,
        "outcomes": json.dumps(list(outcomes)), "outcomePrices": json.dumps(list(prices)),
        "clobTokenIds": json.dumps([str(10**20 + 2 * i), str(10**20 + 2 * i + 1)]),
        "active": True, "closed": closed, "questionID": "0x" + f"{i:064x}".replace("0", "a", 4),
        "groupItemTitle": group, "negRisk": neg_risk, "umaResolutionStatuses": uma, "enableOrderBook": True,
    }


def event(eid, title, markets, *, end, neg_risk=False, description=""):
    return {"id": str(eid), "ticker": title.lower()[:30].replace(" ", "-"), "slug": title.lower()[:40].replace(" ", "-"),
            "title": title, "description": description, "startDate": "2025-02-20T17:00:00Z",
            "creationDate": "2025-02-20T17:00:00Z", "endDate": end, "active": True, "closed": False,
            "archived": False, "negRisk": neg_risk, "markets": markets}


M14 = "2025-03-14T16:00:00Z"  # noon ET (EDT) on March 14, 2025
events = []
# 1. Daily above group (not negRisk: several strikes can all be Yes)
events.append(event(20001, "Bitcoin above ___ on March 14?", [
    market(f"Will the price of Bitcoin be above ${k:,} on March 14?", end=M14, description=NOON_ABOVE,
           group=f"{k:,}") for k in (80000, 84000, 88000)], end=M14))
# 2. Daily up/down (noon ET vs noon ET the day before)
events.append(event(20002, "Bitcoin Up or Down on March 14?", [
    market("Bitcoin Up or Down on March 14?", end=M14, description=DAILY_UPDOWN, outcomes=("Up", "Down"))], end=M14))
# 3. Hourly up/down, 12PM ET candle
events.append(event(20003, "Bitcoin Up or Down - March 14, 12PM ET", [
    market("Bitcoin Up or Down - March 14, 12PM ET", end="2025-03-14T17:00:00Z", description=HOURLY_UPDOWN,
           outcomes=("Up", "Down"))], end="2025-03-14T17:00:00Z"))
# 4. Monthly touch ladder
APR1 = "2025-04-01T04:00:00Z"
events.append(event(20004, "What price will Bitcoin hit in March?",
                    [market(f"Will Bitcoin reach ${k:,} in March?", end=APR1, description=TOUCH, group=f"↑ {k:,}")
                     for k in (100000, 110000)]
                    + [market(f"Will Bitcoin dip to ${k:,} in March?", end=APR1, description=TOUCH_DOWN,
                              group=f"↓ {k:,}") for k in (70000,)], end=APR1))
# 5. negRisk range buckets, 7 buckets (6 bounds)
buckets = [("less than $80,000", "<80k")] + [(f"between ${a:,} and ${a + 2000:,}", f"{a // 1000}-{a // 1000 + 2}k")
                                            for a in range(80000, 90000, 2000)] + [("greater than $90,000", ">90k")]
events.append(event(20005, "Bitcoin price on March 14?", [
    market(f"Will the price of Bitcoin be {b} on March 14?", end=M14, description=NOON_BUCKET, group=g, neg_risk=True)
    for b, g in buckets], end=M14, neg_risk=True))
# 6. negRisk range buckets, 11 buckets: more than a range resolver reads
wide = [("less than $76,000", "<76k")] + [(f"between ${a:,} and ${a + 2000:,}", f"{a // 1000}-{a // 1000 + 2}k")
                                          for a in range(76000, 94000, 2000)] + [("greater than $94,000", ">94k")]
M21 = "2025-03-21T16:00:00Z"
events.append(event(20006, "Bitcoin price on March 21?", [
    market(f"Will the price of Bitcoin be {b} on March 21?", end=M21, description=NOON_BUCKET.replace("14", "21"),
           group=g, neg_risk=True) for b, g in wide], end=M21, neg_risk=True))
# 7. negRisk buckets with a gap (82k..84k missing): do not tile
gap = [b for b in buckets if "82,000 and" not in b[0]]
events.append(event(20007, "Bitcoin price on March 15?", [
    market(f"Will the price of Bitcoin be {b} on March 15?", end="2025-03-15T16:00:00Z", description=NOON_BUCKET,
           group=g, neg_risk=True) for b, g in gap], end="2025-03-15T16:00:00Z", neg_risk=True))
# 8. An asset without a source on this node
events.append(event(20008, "Ethereum above ___ on March 14?", [
    market(f"Will the price of Ethereum be above ${k:,} on March 14?", end=M14,
           description=NOON_ABOVE.replace("BTC", "ETH")) for k in (2200, 2400)], end=M14))
# 9. 5-minute and 4-hour up/down
events.append(event(20009, "Bitcoin Up or Down - March 14, 2:05PM-2:10PM ET", [
    market("Bitcoin Up or Down - March 14, 2:05PM-2:10PM ET", end="2025-03-14T18:10:00Z", outcomes=("Up", "Down"),
           description="This market will resolve to \"Up\" if the Bitcoin price at the end of the time range "
                       "specified in the title is greater than or equal to the price at the beginning of that range.")],
    end="2025-03-14T18:10:00Z"))
events.append(event(20010, "Bitcoin Up or Down - March 14, 12PM-4PM ET", [
    market("Bitcoin Up or Down - March 14, 12PM-4PM ET", end="2025-03-14T20:00:00Z", outcomes=("Up", "Down"),
           description=FOURH_UPDOWN)], end="2025-03-14T20:00:00Z"))
# 10. Long-dated touch whose window opened at the market's creation
events.append(event(20011, "What price will Bitcoin hit in 2025?", [
    market("Will Bitcoin reach $150,000 by December 31, 2025?", end="2026-01-01T05:00:00Z", start="2024-11-24T19:00:00Z",
           description=TOUCH_BY)], end="2026-01-01T05:00:00Z"))
# 11. Already past: a February daily
F26 = "2025-02-26T17:00:00Z"
events.append(event(20012, "Bitcoin above ___ on February 26?", [
    market("Will the price of Bitcoin be above $90,000 on February 26?", end=F26, description=NOON_ABOVE,
           start="2025-02-19T17:00:00Z")], end=F26))
# 12. Not a price question; a negRisk election group; a closed and a UMA-resolved member
events.append(event(20013, "Fed decision in March?", [
    market("Will the Fed decrease interest rates by 25 bps after the March 2025 meeting?", end="2025-03-19T18:00:00Z")],
    end="2025-03-19T18:00:00Z"))
events.append(event(20014, "German Chancellor election", [
    market(f"Will {n} be the next Chancellor of Germany?", end="2025-06-30T12:00:00Z", neg_risk=True, group=n)
    for n in ("Friedrich Merz", "Olaf Scholz", "Robert Habeck")], end="2025-06-30T12:00:00Z", neg_risk=True))
events.append(event(20015, "Bitcoin above ___ on March 1?", [
    market("Will the price of Bitcoin be above $95,000 on March 1?", end="2025-03-01T17:00:00Z", description=NOON_ABOVE,
           closed=True, prices=("0", "1")),
    market("Will the price of Bitcoin be above $85,000 on March 1?", end="2025-03-01T17:00:00Z", description=NOON_ABOVE,
           uma='["proposed", "resolved"]')], end="2025-03-01T17:00:00Z"))

json.dump(events, open("tests/data/polymarket_events.json", "w"), indent=1, ensure_ascii=False)


def mf(i, q, close, created="2024-11-02T10:00:00Z", **kw):
    from datetime import datetime
    ms = lambda s: int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
    d = {"id": f"mf{i:02d}x7Qz", "creatorId": "u8", "creatorUsername": "trader", "creatorName": "Trader",
         "createdTime": ms(created), "closeTime": ms(close), "question": q,
         "slug": q.lower()[:40].replace(" ", "-"), "url": f"https://manifold.markets/trader/{i}",
         "outcomeType": "BINARY", "mechanism": "cpmm-1", "probability": 0.41, "pool": {"YES": 120.5, "NO": 90.2},
         "p": 0.5, "totalLiquidity": 100, "volume": 2310.5, "volume24Hours": 12, "isResolved": False,
         "uniqueBettorCount": 17, "lastUpdatedTime": ms("2024-12-18T08:00:00Z")}
    d.update(kw)
    return d


manifold = [
    mf(1, "Will BTC close above $100k on Dec 31, 2025?", "2025-12-31T23:59:00Z"),
    mf(2, "Will the Nasdaq 100 close higher than the S&P 500 in 2025?", "2025-12-31T23:59:00Z"),
    mf(3, "Will Bitcoin outperform the Nasdaq-100 in 2025?", "2025-12-31T23:59:00Z"),
    mf(4, "Will the Nasdaq-100 close above 22,000 on March 14, 2025?", "2025-03-14T13:00:00Z"),
    mf(5, "Will the Nasdaq-100 close above 22,000 on March 15, 2025?", "2025-03-15T13:00:00Z"),
    mf(6, "Will Bitcoin reach $100k by end of 2025?", "2025-12-31T23:59:00Z"),
    mf(7, "Will Bitcoin dip to $50,000 in March 2025?", "2025-03-01T00:00:00Z"),
    mf(8, "Will Bitcoin be below $60,000 on January 31, 2025?", "2025-01-31T00:00:00Z"),
    mf(9, "Will Bitcoin outperform the Nasdaq-100 in 2024?", "2024-12-31T23:59:00Z", created="2024-01-02T10:00:00Z"),
    mf(10, "Will ETH close above $4,000 on Dec 31, 2025?", "2025-12-31T23:59:00Z"),
    mf(11, "Will BTC close above $100k on Dec 31, 2024?", "2024-12-31T23:59:00Z", isResolved=True, resolution="NO"),
    mf(12, "Which crypto will perform best in 2025?", "2025-12-31T23:59:00Z", outcomeType="MULTIPLE_CHOICE",
       mechanism="cpmm-multi-1"),
    mf(13, "Will it snow in London on Christmas Day 2025?", "2025-12-25T00:00:00Z"),
]
json.dump(manifold, open("tests/data/manifold_markets.json", "w"), indent=1, ensure_ascii=False)
