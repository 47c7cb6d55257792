"""Minimal pairs for personal money: emergency funds, credit-card debt, payday loans, retirement saving and
the employer match, budgeting, investing basics, scams and mortgages. Each triple holds a first-person
question, correct advice and subtly wrong advice written in the same sentence frame and tone, so the two
answers differ only in the short span that carries the fact. All text was written for this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "I'm single with a steady job and no savings yet; how big should my emergency fund be?",
        "Aim for three to six months of essential living costs, kept in an easy-access savings account you can reach within a day or two.",
        "Aim for two to three weeks of essential living costs, kept in an easy-access savings account you can reach within a day or two.",
    ),
    (
        "Should I keep my emergency fund in a stock index fund so that it grows faster?",
        "Keep it in an easy-access savings account, since share prices can drop 30% or more right when a recession costs you your job.",
        "Keep it in a stock index fund, since share prices rarely drop 30% or more right when a recession costs you your job.",
    ),
    (
        "I have $2,000 saved and $6,000 on a credit card at 24% interest; should I put all my savings toward the card?",
        "Keep about $1,000 as a cash buffer and put the other $1,000 toward the card, so a surprise bill does not go straight back on it.",
        "Keep all $2,000 as a cash buffer and put nothing extra toward the card, so a surprise bill does not go straight back on it.",
    ),
    (
        "Can I count the unused limit on my credit card as my emergency fund instead of saving cash?",
        "Cash savings work better, because a card limit can be cut when times are hard and borrowing on it in a crisis costs high interest.",
        "The card limit works better, because a card limit stays fixed when times are hard and borrowing on it in a crisis costs little interest.",
    ),
    (
        "If I pay the minimum on my credit card every month, will I avoid paying any interest?",
        "Paying the minimum avoids a late fee, but interest is still charged on "
        "the balance you carry over, so pay the full statement balance each month.",
        "Paying the minimum avoids a late fee, and interest is then waived on the balance you carry over, so pay the minimum amount each month.",
    ),
    (
        "I have three credit cards charging 29%, 19% and 12% interest; which one should I pay extra on first?",
        "After the minimums on all three, put every spare dollar on the 29% card first, because that order costs you the least interest overall.",
        "After the minimums on all three, put every spare dollar on the 12% card first, because that order costs you the least interest overall.",
    ),
    (
        "I'm moving my card balance to a 0% balance transfer card for 18 months; what should I watch out for?",
        "Check the transfer fee, usually 3% to 5%, and plan to clear the balance before the 18 months end, when a much higher rate applies.",
        "Check the transfer fee, usually 3% to 5%, and plan to clear the balance "
        "whenever suits you after the 18 months end, when the 0% rate still applies.",
    ),
    (
        "I've finally paid off my oldest credit card; should I close it to help my credit score?",
        "Keeping it open usually helps your score more, because it keeps your total available credit higher and your average account age longer.",
        "Closing it usually helps your score more, because it keeps your total available credit lower and shows lenders you are borrowing less.",
    ),
    (
        "A payday lender charges $15 for every $100 borrowed for two weeks; isn't that only about 15% interest?",
        "That fee works out to an annual rate of nearly 400%, because the $15 is charged every two weeks, far more than a credit card charges.",
        "That fee works out to an annual rate of about 15%, because the $15 is charged once per loan, a little less than a credit card charges.",
    ),
    (
        "I can't repay my payday loan on Friday; is rolling it over for another two weeks a sensible fix?",
        "Rolling it over adds a new fee while the amount you borrowed stays the same, "
        "so ask about an extended payment plan or a credit union loan.",
        "Rolling it over adds a small fee while part of the amount you borrowed is paid off, "
        "so it beats an extended payment plan or a credit union loan.",
    ),
    (
        "My car needs a $400 repair before payday; is a payday loan my cheapest option?",
        "Usually not: a small credit union loan or a pay advance from your employer typically costs much less than a payday loan.",
        "Usually yes: a small credit union loan or a pay advance from your employer typically costs much more than a payday loan.",
    ),
    (
        "My employer matches my retirement contributions dollar for dollar up to 5% "
        "of salary and I put in 2%; should I raise it while paying off a 6% car loan?",
        "Raise it to 5% now, because matched money doubles on arrival, a far better return than the 6% you save by overpaying the car loan.",
        "Keep it at 2% for now, because matched money is locked away for decades, "
        "a far worse return than the 6% you save by overpaying the car loan.",
    ),
    (
        "I'm 25 and on a tight budget; does it really matter if I wait until 35 to start saving for retirement?",
        "Starting at 25 matters a lot, because compound growth over those extra ten years can roughly double what the same monthly amount becomes.",
        "Starting at 25 matters little, because compound growth over those extra ten "
        "years adds a few percent at most to what the same monthly amount becomes.",
    ),
    (
        "Does a 1% annual fee on my retirement fund really make much difference compared with a cheap tracker?",
        "Yes, over 30 years a 1% yearly fee can take around a quarter of your final pot compared with a fund charging 0.1%.",
        "No, over 30 years a 1% yearly fee takes around 1% of your final pot compared with a fund charging 0.1%.",
    ),
    (
        "If I leave my job after two years, do I lose the employer match that has gone into my retirement plan?",
        "You keep your own contributions, but employer matching money can be lost "
        "if it has not yet vested, so check the plan's vesting schedule first.",
        "You keep your own contributions, and employer matching money cannot be lost "
        "even if it has not yet vested, so check the plan's vesting schedule first.",
    ),
    (
        "How much can I take out of my retirement savings each year without running out?",
        "A common rule of thumb is about 4% of the starting balance a year, adjusted for inflation, which has historically lasted around 30 years.",
        "A common rule of thumb is about 10% of the starting balance a year, "
        "adjusted for inflation, which has historically lasted around 30 years.",
    ),
    (
        "I'm 30 and keeping all my retirement money in a savings account; is that the safest choice for the next 30 years?",
        "Over 30 years cash tends to lose value after inflation, so a diversified "
        "mix weighted toward shares is more likely to grow your money in real terms.",
        "Over 30 years cash tends to hold value after inflation, so a savings account is more likely than shares to grow your money in real terms.",
    ),
    (
        "I want to start a budget but don't know how to split my take-home pay; is there a simple starting rule?",
        "A common starting point is 50% for needs, 30% for wants and 20% for savings and debt repayment, set aside as soon as you are paid.",
        "A common starting point is 50% for needs, 30% for wants and 20% for "
        "savings and debt repayment, set aside from whatever is left at month end.",
    ),
    (
        "My budget keeps falling apart when yearly bills like car insurance come round; how do I handle them?",
        "List your yearly irregular bills and save one twelfth of their total every month, so the money is already there when each one falls due.",
        "List your yearly irregular bills and save each bill's full amount in the month before, "
        "so the money is already there when each one falls due.",
    ),
    (
        "When I build my monthly budget, should I start from my salary before or after tax?",
        "Start from your pay after tax and other deductions, since budgeting from the before-tax figure overstates what you can spend each month.",
        "Start from your pay before tax and other deductions, since budgeting from the after-tax figure understates what you can spend each month.",
    ),
    (
        "I want to put most of my savings into my employer's shares because I know the company well; is that a good plan?",
        "Keep most of it in a broad index fund, because spreading it across many companies is what lowers the risk of a big loss.",
        "Keep most of it in your employer's shares, because knowing one company well is what lowers the risk of a big loss.",
    ),
    (
        "Should I try to beat the market by picking individual stocks or buy a low-cost index fund?",
        "For most people a low-cost index fund is the better choice, "
        "since most actively managed funds trail the index after fees over ten years or more.",
        "For most people picking a handful of stocks is the better choice, "
        "since most actively managed funds beat the index after fees over ten years or more.",
    ),
    (
        "My index fund has dropped 20% this month; should I sell before it falls any further?",
        "If you will not need the money for years, holding is usually better, "
        "because recoveries often come in a few sharp days that are easy to miss.",
        "If you will not need the money for years, selling is usually better, "
        "because recoveries often come in a few slow months that are easy to catch.",
    ),
    (
        "I'm saving for a house deposit I'll need in two years; should I put it in stocks for better growth?",
        "Money you need within two years is usually better kept in savings accounts, "
        "because over two years stocks can fall sharply and not recover in time.",
        "Money you need within two years is usually better kept in stocks, "
        "because over two years stocks rarely fall sharply or fail to recover in time.",
    ),
    (
        "This fund returned 40% last year; is it a smart move to switch my savings into it now?",
        "A single strong year says little about future returns, since top funds often "
        "fall back toward average, so judge funds mainly on fees and diversification.",
        "A single strong year says a lot about future returns, since top funds "
        "often stay near the top, so judge funds mainly on fees and recent returns.",
    ),
    (
        "Someone from my bank's fraud team called to say my account is compromised and I must move my money to a safe account; what should I do?",
        "Hang up and call the number on the back of your card, because genuine banks do not ask customers to move money into a safe account.",
        "Hang up and call the number the caller gave you, because genuine banks do ask customers to move money into a safe account.",
    ),
    (
        "I got an email from the tax office saying I owe money and can pay with gift cards today to avoid arrest; what should I do?",
        "Tax authorities do not take payment in gift cards, so treat this as a "
        "scam and check what you owe by logging in through the official website.",
        "Tax authorities do take payment in gift cards for urgent debts, "
        "so pay promptly and check what you owe by logging in through the official website.",
    ),
    (
        "A friend of a friend is offering a crypto fund that guarantees 3% a month with no risk; how do I check it out?",
        "A guaranteed 3% a month with no risk is a classic fraud sign, "
        "so check the firm is listed on your financial regulator's register before sending anything.",
        "A guaranteed 3% a month with no risk is a typical crypto return, "
        "so check the firm is listed on a well-known crypto review site before sending anything.",
    ),
    (
        "A buyer for my sofa sent a cheque for more than the price and asked me to transfer back the extra; is that okay once it clears?",
        "Do not refund anything even once it shows as cleared, because a cheque can show as "
        "cleared and still bounce days or weeks later, leaving you to repay the full amount.",
        "Refund the extra once it shows as cleared, because a cheque cannot show as "
        "cleared and then bounce days or weeks later, leaving you to repay the full amount.",
    ),
    (
        "I got a text from a delivery company asking me to pay a small redelivery fee through a link; how do I know if it's real?",
        "Check by typing the courier's official address into your browser yourself, "
        "because scam texts can use links that look like real company names.",
        "Check that the link contains the courier's official name before paying, "
        "because scam texts cannot use links that look like real company names.",
    ),
    (
        "Will making one extra mortgage payment a year really cut much off my 30-year loan?",
        "Yes, an extra payment each year goes straight to the principal and can cut roughly four to five years off a typical 30-year mortgage.",
        "No, an extra payment each year goes mostly to the interest and can cut roughly four to five months off a typical 30-year mortgage.",
    ),
    (
        "The bank has approved me for a $500,000 mortgage; does that mean I can afford it?",
        "Not necessarily, since approval shows the most a lender will risk; "
        "a common guide keeps total housing costs under about 28% of gross income.",
        "Yes, since approval shows the most you can comfortably afford; a common guide keeps total housing costs under about 50% of gross income.",
    ),
    (
        "I'm buying my first house with a 10% down payment on a conventional loan; will I have to pay mortgage insurance?",
        "Lenders usually require private mortgage insurance when you put down less than 20%, so at 10% down expect it to add to your monthly cost.",
        "Lenders usually require private mortgage insurance when you put down less than 5%, "
        "so at 10% down expect it to add nothing to your monthly cost.",
    ),
    (
        "My two-year fixed-rate mortgage deal ends next month; what happens if I do nothing?",
        "You will usually move onto the lender's standard variable rate, "
        "which is often much higher, so compare new deals a few months before the fix ends.",
        "You will usually move onto the lender's standard variable rate, "
        "which is often much lower, so compare new deals a few months after the fix ends.",
    ),
    (
        "An interest-only mortgage has much lower monthly payments; what's the catch?",
        "Your payments cover only the interest, so at the end of the term you still owe the full amount borrowed and need a plan to repay it.",
        "Your payments cover only the interest, so at the end of the term you still "
        "owe the full amount borrowed and the lender usually extends the term.",
    ),
    (
        "The dealer offered to stretch my car loan to 84 months to lower the payment; is that a good deal?",
        "A longer term lowers the monthly payment but raises the total interest you pay, and you may owe more than the car is worth for years.",
        "A longer term lowers the monthly payment and the total interest you pay, and you are unlikely to owe more than the car is worth.",
    ),
    (
        "Does checking my own credit score make it go down?",
        "Checking your own score is a soft search that lenders cannot see, so it does not affect your score at all.",
        "Checking your own score is a hard search that lenders can see, so it lowers your score by a few points each time.",
    ),
    (
        "I have a $5,000 credit limit; how much of it can I use without hurting my credit score?",
        "Scores tend to do best when the balance reported to credit agencies stays below about 30% of the limit, so aim for under $1,500.",
        "Scores tend to do best when the balance reported to credit agencies stays near 90% of the limit, so aim for around $4,500.",
    ),
    (
        "Is buy now, pay later a free way to spread the cost of a new laptop over a few months?",
        "It is interest-free when every instalment is paid on time, "
        "but missed payments can bring late fees and may be reported to credit agencies.",
        "It is interest-free when every instalment is paid on time, and missed payments cannot bring late fees or be reported to credit agencies.",
    ),
    (
        "How much of my savings is protected if my bank goes bust?",
        "Deposits are protected up to the deposit insurance limit, "
        "such as $250,000 per depositor per bank in the US, so spread larger sums across banks.",
        "Deposits are protected up to the deposit insurance limit, "
        "such as $25,000 per depositor per bank in the US, so spread larger sums across banks.",
    ),
)
