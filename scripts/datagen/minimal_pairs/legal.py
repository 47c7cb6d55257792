"""Minimal pairs for everyday legal matters, kept jurisdiction-neutral: tenancy deposits, repairs,
rent and notices; contracts and subscriptions; court letters and debt collectors; minor car accidents
and insurance claims; faulty goods and refunds; neighbour disputes; and wills. Each triple holds a
first-person question, correct advice and subtly wrong advice written in the same sentence frame and
tone, so the two answers differ only in the short span that carries the fact. All text was written for
this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "I moved out of my flat and my landlord is keeping the whole deposit for 'general wear'. Is he allowed to do that?",
        "Normal wear and tear from ordinary living is not a valid reason to deduct, so ask in writing for an itemised list of damage and costs.",
        "Normal wear and tear counts as damage a landlord can charge for, so ask in writing for an itemised list of damage and costs.",
    ),
    (
        "The roof of my rented house is leaking and my landlord isn't answering. Should I stop paying rent until it's fixed?",
        "Keep paying the rent while you send a dated written repair request, since withholding rent can put you in breach of the tenancy.",
        "Stop paying the rent while you send a dated written repair request, since withholding rent is the usual way to force a repair.",
    ),
    (
        "I want to move out when my fixed-term lease ends next spring. When should I tell my landlord?",
        "Give written notice by the deadline your lease sets before the end date, and keep a copy showing when you sent it.",
        "Give written notice on the last day, when you hand back the keys, and keep a copy showing when you sent it.",
    ),
    (
        "My landlord texted that he'll let himself into my flat tomorrow to look around. Does he have to give me notice?",
        "Outside emergencies a landlord usually needs to give reasonable notice before entering, so you can ask politely to move the visit.",
        "Outside emergencies a landlord usually may enter whenever he chooses, so you can ask politely to move the visit.",
    ),
    (
        "My landlord wants to put my rent up halfway through my one-year fixed-term tenancy. Can he do that?",
        "During a fixed term the rent can usually rise only if your agreement has a review clause or you agree, so read the agreement.",
        "During a fixed term the rent can usually rise each year even if your agreement has no review clause, so read the agreement.",
    ),
    (
        "I'm moving into a rented flat next week. What should I do on the first day to protect my deposit?",
        "Photograph every room with dates, note existing damage on the inventory, and send the signed copy to the landlord within a few days.",
        "Photograph every room with dates, note existing damage on the inventory, and keep the signed copy yourself until the day you move out.",
    ),
    (
        "The old boiler in my rented flat has died and my landlord says I have to pay for a new one. Is that my responsibility?",
        "Major fixtures like the boiler are normally the landlord's responsibility to repair or replace, unless you damaged it through misuse.",
        "Major fixtures like the boiler are normally the tenant's responsibility to repair or replace, unless the lease says something else.",
    ),
    (
        "My landlord has given me an eviction notice with a date on it. Do I have to be out by that date?",
        "A notice usually only starts the process, and in most places the landlord still needs a court order to remove you, so act soon.",
        "A notice usually completes the process, and in most places the landlord can remove you on that date without a court order, so act soon.",
    ),
    (
        "My landlord changed the locks while I was away because I was two weeks late with the rent. Is he allowed to?",
        "Changing the locks without a court order is usually an unlawful eviction, so ask a housing adviser quickly about getting back in.",
        "Changing the locks over unpaid rent is usually a lawful eviction, so ask a housing adviser quickly about getting back in.",
    ),
    (
        "I signed up for a gym membership online yesterday and already regret it. Can I still get out of it?",
        "Many online contracts have a short cooling-off period that runs from the day you sign, so cancel in writing today and keep proof.",
        "Many online contracts have a short cooling-off period that runs from your first billing date, so cancel in writing then and keep proof.",
    ),
    (
        "I want to cancel my phone contract, which still has six months to run. Will I have to pay anything?",
        "You will usually owe the early termination charge set out in your contract, so ask the provider for the exact figure in writing first.",
        "You will usually owe only one final month's bill, whatever the contract says, so ask the provider for the exact figure in writing first.",
    ),
    (
        "I agreed over the phone to hire a builder for my kitchen, but nothing was signed. Is that a real contract?",
        "A spoken agreement can still be a binding contract, so confirm the price and the scope of work to the builder in writing now.",
        "A spoken agreement is not a binding contract until signed, so confirm the price and the scope of work to the builder in writing now.",
    ),
    (
        "A dealer handed me a long contract full of small print and wants me to sign it today. Can I sign now and read it later?",
        "Read it all before you sign, because terms you did not read before signing will usually still bind you.",
        "Sign it now and read it later, because terms you did not read before signing will usually not bind you.",
    ),
    (
        "I want to cancel a monthly subscription box for good. How do I make sure the charges actually stop?",
        "Cancel with the company itself and keep its confirmation, since stopping the payment at your bank does not end the contract.",
        "Cancel with your bank itself and keep its confirmation, since stopping the payment at your bank does end the contract.",
    ),
    (
        "I received a court claim form about a debt I don't think I owe. What happens if I don't respond to it?",
        "Respond by the deadline on the form, because if you miss it the court can give judgment against you without a hearing.",
        "Respond at the first hearing, because even if you miss the deadline the court cannot give judgment against you without a hearing.",
    ),
    (
        "A debt collector says I owe money on an old phone bill I don't recognise. Should I pay something to make them go away?",
        "Ask in writing for proof of the debt, such as the signed agreement, and pay nothing yet, as a payment can count as accepting it.",
        "Ask in writing for proof of the debt, such as the signed agreement, and pay a small sum now, as a payment does not count as accepting it.",
    ),
    (
        "A debt collection agency keeps phoning me and says they will come round. Can they take my things from my home?",
        "A private debt collector cannot seize your belongings without a court judgment, so ask them to contact you in writing and keep records.",
        "A private debt collector can seize your belongings once the debt is overdue, so ask them to contact you in writing and keep records.",
    ),
    (
        "A collector wrote to me about a credit card debt from many years ago that I had forgotten. Could it be too old to chase?",
        "Debts can become too old to enforce in court after a limitation period, so avoid paying or admitting anything until you check the dates.",
        "Debts can become too old to enforce in court after a limitation period, so make a small goodwill payment while you check the dates.",
    ),
    (
        "I won a small claims case but the other side still hasn't paid me. Will the court collect the money for me?",
        "Courts usually do not collect the money automatically, so you need to apply for enforcement, such as bailiffs or a deduction from wages.",
        "Courts usually collect the money automatically after judgment, so you need to wait for them to arrange bailiffs or a deduction from wages.",
    ),
    (
        "I got a formal witness summons to give evidence in a neighbour's court case. Do I have to go?",
        "A formal witness summons legally requires you to attend, so contact the court straight away if the date is a genuine problem for you.",
        "A formal witness summons is optional in private disputes, so contact the court straight away if the date is a genuine problem for you.",
    ),
    (
        "I received a 'letter before action' about an invoice a firm says I haven't paid. Is this serious?",
        "Reply in writing with your position and evidence within its deadline, because ignoring it can lead straight to a court claim.",
        "Reply in writing with your position and evidence when convenient, because ignoring it cannot lead straight to a court claim.",
    ),
    (
        "I had a minor bump in a car park and the other driver wants to sort it out privately. What should I do at the scene?",
        "Exchange names, addresses, registration and insurer details, photograph both cars, and tell your insurer even if you settle privately.",
        "Exchange names, addresses, registration and insurer details, photograph both cars, and tell your insurer only if the private deal fails.",
    ),
    (
        "After a small crash the other driver wants me to sign a note saying it was my fault. Should I sign it?",
        "Do not sign it, because insurers can rely on a signed admission of fault; swap details and photos and let them settle liability.",
        "Sign it to keep things calm, because insurers disregard a signed admission of fault; swap details and photos and let them settle liability.",
    ),
    (
        "My car was written off and the insurer's payout offer seems low to me. How can I argue for more?",
        "The first offer can be negotiated, so send the insurer adverts for similar cars of the same age and mileage to argue for a higher value.",
        "The first offer can be negotiated, so send the insurer the receipt showing what you first paid for the car to argue for a higher value.",
    ),
    (
        "Another driver hit my car and their insurer rang offering to handle my repairs directly. Do I have to use them?",
        "You can accept or refuse their offer, and you are free to have the claim handled through your own insurer instead.",
        "You must accept their offer once they have called, and you are not free to have the claim handled through your own insurer instead.",
    ),
    (
        "I scraped a parked car while reversing and the owner isn't around. What should I put in the note for the windscreen?",
        "Leave a note with your name, address and registration number, and report the incident to the police as well if your local rules require it.",
        "Leave a note with your first name and phone number, and report the incident to the police as well if your local rules require it.",
    ),
    (
        "A new kettle I bought stopped working after three weeks and the shop says I must contact the manufacturer. Is that right?",
        "Your contract is with the shop, so you can ask the shop itself for a repair, replacement or refund for faulty goods.",
        "Your contract is with the manufacturer, so you must ask the manufacturer itself for a repair, replacement or refund for faulty goods.",
    ),
    (
        "I bought a jumper in a shop and changed my mind about the colour. Does the shop have to refund me?",
        "For goods that are not faulty, a change-of-mind refund depends on the shop's own returns policy, so read the receipt and ask politely.",
        "For goods that are not faulty, a change-of-mind refund is required by law within thirty days, so read the receipt and ask politely.",
    ),
    (
        "My new blender broke in its first week and the shop is offering a credit note instead of cash. Do I have to accept it?",
        "When goods are faulty the shop usually cannot force store credit on you, so politely decline the credit note and ask for your money back.",
        "When goods are faulty the shop usually can insist on store credit instead, so politely accept the credit note and ask for a receipt.",
    ),
    (
        "I paid for a sofa by credit card and the company went bust before delivering it. Have I lost my money?",
        "Ask your card provider to reverse the payment, since card protection often covers goods that a failed company never delivered.",
        "Ask the company's liquidator to refund the payment, since card protection rarely covers goods that a failed company never delivered.",
    ),
    (
        "I bought a used washing machine from a private seller and it broke a week later. Do I have the same rights as with a shop?",
        "Buying privately usually gives you fewer rights than a shop, mainly that the item is as described, so reread the advert and your messages.",
        "Buying privately usually gives you the same rights as a shop, including a refund for faults, so reread the advert and your messages.",
    ),
    (
        "My laptop developed a fault eight months after I bought it and the shop says its 30-day returns window is over. Have I lost my rights?",
        "No, legal rights for faulty goods usually last well beyond a shop's returns window, so ask the shop in writing for a repair or replacement.",
        "Yes, legal rights for faulty goods usually end with the shop's returns window, so ask the shop in writing for a goodwill repair instead.",
    ),
    (
        "A parcel I ordered online was marked as delivered but never reached me. Is that my problem or the seller's?",
        "Goods are usually the seller's responsibility until they reach you, so contact the seller, not the courier, and ask for a replacement.",
        "Goods are usually your responsibility once the courier collects them, so contact the courier, not the seller, and ask for a replacement.",
    ),
    (
        "Branches from my neighbour's tree hang far over my garden. Can I cut them back myself?",
        "You can usually trim overhanging branches back to the boundary line from your own side, and it is polite to offer them the cuttings.",
        "You can usually trim overhanging branches as far back as the trunk, reaching over the fence, and it is polite to offer them the cuttings.",
    ),
    (
        "My neighbour plays loud music past midnight most weekends. What is a sensible first step for me to take?",
        "A calm conversation or a friendly note is a sensible first step, and a dated log of the noise helps if you later go to the council.",
        "A solicitor's letter threatening legal action is a sensible first step, and a dated log of the noise helps if you later go to the council.",
    ),
    (
        "A football from next door broke my kitchen window. Can I keep the ball until my neighbours pay for the glass?",
        "Give the ball back and ask them in writing to pay for the glass, since keeping their property as leverage can put you in the wrong.",
        "Keep the ball and ask them in writing to pay for the glass, since keeping their property as leverage is a lawful way to get paid.",
    ),
    (
        "I want to leave my niece some money in my will. Can she also be one of the witnesses when I sign it?",
        "Choose witnesses who inherit nothing, because in many places a beneficiary who witnesses the will can lose the gift left to them.",
        "Choose her as a witness if convenient, because in many places a beneficiary who witnesses the will still keeps the gift left to them.",
    ),
    (
        "I got married last year, but my will was written before the wedding. Is the old will still valid?",
        "Marriage can cancel an earlier will in some legal systems, so review your will now and make a new one if needed.",
        "Marriage cannot cancel an earlier will in any legal system, so review your will later and make a new one if needed.",
    ),
    (
        "I live with my partner but we aren't married. If I die without a will, will my partner inherit my house?",
        "Often not, because default inheritance rules often give nothing to an unmarried partner, so write a will if you want them to inherit.",
        "Usually yes, because default inheritance rules often treat a long-term partner like a spouse, so write a will if you want them to inherit.",
    ),
    (
        "I'd like my daughter to be the executor of my will. Can she also be one of the people who inherit?",
        "Yes, an executor is allowed to inherit under the same will, so naming your main beneficiary as executor is common and valid.",
        "No, an executor is not allowed to inherit under the same will, so naming your main beneficiary as executor would void her gift.",
    ),
)
